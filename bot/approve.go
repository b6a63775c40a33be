package bot

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ApproveInput is one approval click or /approve comment.
type ApproveInput struct {
	RequestID string
	Approver  Identity
	// Nonce is the secret the Slack button carried. RequireNonce makes it
	// mandatory (Slack buttons); a PR comment has none.
	Nonce        string
	RequireNonce bool
	// SHA is the commit the approver was shown, when the transport knows
	// it; an approval for another SHA is refused.
	SHA string
	// MFA is the WebAuthn assertion the approver made over this request,
	// verified by the web transport's ceremony. Where the environment
	// requires it (approvals.require_webauthn) an approval without one, or
	// with one bound to anything else, is refused.
	MFA *MFAProof
}

// CodeConfigChanged refuses an approval given under another configuration.
const CodeConfigChanged RefusalCode = "config_changed"

// Approve counts one approval. It checks, in pure code over freshly
// fetched facts, that the request still awaits approval at the same SHA
// and configuration, that the approver is in an approvers team now, is
// neither the requester nor the PR author and has not approved already.
// A refusal is audited and returned as *Refusal; the request is unchanged.
// With the last approval needed the request is queued.
func (s *Service) Approve(ctx context.Context, in ApproveInput) (Request, error) {
	r, err := s.store.Request(ctx, in.RequestID)
	if errors.Is(err, ErrNotFound) {
		return Request{}, s.refuseApproval(ctx, in, refuse(CodeWrongState, "there is no request %s", in.RequestID))
	}
	if err != nil {
		return Request{}, fmt.Errorf("approve %s: reading request: %w", in.RequestID, err)
	}
	p, ok := s.policies.Environment(r.Repo, r.Environment)
	if !ok {
		return Request{}, s.refuseApproval(ctx, in, refuse(CodeUnknownEnv,
			"%s is no longer configured for %s", r.Environment, r.Repo))
	}
	now := s.now().UTC()
	if ref := checkApproval(&r, p, in, now); ref != nil {
		return Request{}, s.refuseApproval(ctx, in, ref)
	}
	// Live facts: the approver's teams now, and where the ref points now.
	ms, err := s.memberships(ctx, p.Approvers, in.Approver)
	if err != nil {
		return Request{}, fmt.Errorf("approve %s: %w", r.ID, err)
	}
	if !anyMember(ms) {
		return Request{}, s.refuseApproval(ctx, in, refuse(CodeNotApprover,
			"only members of %s may approve deploys to %s, and %s is not an active member",
			strings.Join(teamStrings(p.Approvers), ", "), r.Environment, in.Approver.Login))
	}
	if r.Ref != "" && r.Ref != r.SHA {
		head, err := s.changes.ResolveRef(ctx, r.Repo, r.Ref)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return Request{}, fmt.Errorf("approve %s: resolving %s: %w", r.ID, r.Ref, err)
		}
		if head != r.SHA {
			return Request{}, s.refuseApproval(ctx, in, refuse(CodeStaleSHA,
				"%s moved from %s to %s since this request; this approval was for %s only, request a new deploy",
				r.Ref, short(r.SHA), short(head), short(r.SHA)))
		}
	}
	if in.MFA != nil && p.ApprovalsRequireWebAuthn {
		ref, err := s.mfaCredentialOwned(ctx, in.MFA, in.Approver)
		if err != nil {
			return Request{}, fmt.Errorf("approve %s: %w", r.ID, err)
		}
		if ref != nil {
			return Request{}, s.refuseApproval(ctx, in, ref)
		}
	}

	var granted Approval
	var queued bool
	out := &outboxed{build: func(u Request) []Notification {
		ns := []Notification{{Kind: NotifyApprovalGranted, Request: u, Actor: in.Approver, Approval: &granted}}
		if queued {
			ns = append(ns, Notification{Kind: NotifyStateChanged, Request: u, Actor: in.Approver})
		}
		return ns
	}}
	updated, err := s.store.UpdateRequest(ctx, r.ID, func(cur *Request) ([]AuditEvent, error) {
		now := s.now().UTC()
		if ref := checkApproval(cur, p, in, now); ref != nil {
			return nil, ref
		}
		granted = Approval{Approver: in.Approver, At: now, SHA: cur.SHA, ConfigHash: cur.ConfigHash,
			ExpiresAt: now.Add(p.approvalTTL())}
		cur.Approvals = append(cur.Approvals, granted)
		valid := cur.ValidApprovals(now)
		data := map[string]any{"approver": in.Approver.Login, "approver_id": in.Approver.GitHubID,
			"sha": cur.SHA, "config_hash": cur.ConfigHash, "expires_at": granted.ExpiresAt,
			"count": len(valid), "required": cur.RequiredApprovals, "teams": membershipStrings(ms)}
		if in.MFA != nil && p.ApprovalsRequireWebAuthn {
			data["mfa"] = in.MFA // the whole assertion, re-verifiable offline
		}
		events := []AuditEvent{{Actor: in.Approver.Login, Action: ActionApprovalGranted, Subject: cur.ID, Data: data}}
		if len(valid) >= cur.RequiredApprovals {
			from := cur.State
			if err := cur.transition(StateQueued, fmt.Sprintf("approved by %s", approverList(valid))); err != nil {
				return nil, err
			}
			cur.QueuedAt = now
			queued = true
			events = append(events, stateEvent(cur, from, in.Approver.Login))
		}
		return events, nil
	}, out.Notes)
	if ref, ok := AsRefusal(err); ok {
		return Request{}, s.refuseApproval(ctx, in, ref)
	}
	if err != nil {
		return Request{}, fmt.Errorf("approve %s: %w", r.ID, err)
	}
	if in.MFA != nil && p.ApprovalsRequireWebAuthn {
		s.recordMFAUse(ctx, in.MFA, granted.At)
	}
	s.deliver(ctx, out, updated)
	if queued {
		s.kick()
	}
	return updated, nil
}

// checkApproval is the pure part of the approval rules, run before the
// lookups and again inside the transaction.
func checkApproval(r *Request, p *EnvironmentPolicy, in ApproveInput, now time.Time) *Refusal {
	switch {
	case in.Approver.Login == "":
		return refuse(CodeNotLinked, "link your GitHub account before approving")
	case in.RequireNonce && subtle.ConstantTimeCompare([]byte(in.Nonce), []byte(r.ApprovalNonce)) != 1:
		return refuse(CodeBadNonce, "this button is not valid for request %s", r.ID)
	case r.State == StateExpired || (r.State == StateAwaitingApproval && !now.Before(r.ApprovalDeadline)):
		// The same answer whether or not the expiry sweep has run yet.
		return refuse(CodeApprovalExpired, "request %s expired at %s; request the deploy again",
			r.ID, r.ApprovalDeadline.UTC().Format(time.RFC3339))
	case r.State != StateAwaitingApproval:
		return refuse(CodeWrongState, "request %s is %s, not awaiting approval", r.ID, r.State)
	case in.SHA != "" && in.SHA != r.SHA:
		return refuse(CodeStaleSHA, "request %s is for %s, not %s", r.ID, short(r.SHA), short(in.SHA))
	case p.Hash() != r.ConfigHash:
		return refuse(CodeConfigChanged, "the policy for %s changed since request %s was made; request the deploy again",
			r.Environment, r.ID)
	case in.Approver.Same(r.Requester):
		return refuse(CodeSelfApproval, "you requested this deploy; someone else must approve it")
	case r.PR != nil && in.Approver.Same(r.PR.Author):
		return refuse(CodeAuthorApproval, "you wrote PR #%d; someone else must approve its deploy", r.PR.Number)
	}
	for _, a := range r.ValidApprovals(now) {
		if a.Approver.Same(in.Approver) {
			return refuse(CodeAlreadyApproved, "you already approved request %s", r.ID)
		}
	}
	if p.ApprovalsRequireWebAuthn {
		return checkMFA(in.MFA, ApprovalChallenge(*r), in.Approver, now, "approving deploys to "+r.Environment)
	}
	return nil
}

// refuseApproval audits a refused approval and returns the refusal.
func (s *Service) refuseApproval(ctx context.Context, in ApproveInput, ref *Refusal) error {
	ev := AuditEvent{Actor: actorOf(in.Approver), Action: ActionApprovalRefused, Subject: in.RequestID,
		Data: map[string]any{"approver": in.Approver.Login, "approver_id": in.Approver.GitHubID,
			"slack_user": in.Approver.ChatUser, "code": ref.Code, "reason": ref.Reason}}
	if err := s.store.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("auditing refused approval of %s: %w", in.RequestID, err)
	}
	return ref
}

func anyMember(ms []Membership) bool {
	for _, m := range ms {
		if m.Member {
			return true
		}
	}
	return false
}

func membershipStrings(ms []Membership) []string {
	var out []string
	for _, m := range ms {
		if m.Member {
			out = append(out, m.Team.String())
		}
	}
	return out
}

func approverList(as []Approval) string {
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = a.Approver.Login
	}
	return strings.Join(names, ", ")
}
