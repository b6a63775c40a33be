package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Reject ends a request awaiting approval. Only a member of an approvers
// team may reject, and a reason is required.
func (s *Service) Reject(ctx context.Context, id string, by Identity, reason string) (Request, error) {
	if strings.TrimSpace(reason) == "" {
		return Request{}, s.refuseAction(ctx, by, "request.reject", id, refuse(CodeReasonMissing, "say why you reject request %s", id))
	}
	r, p, err := s.requestAndPolicy(ctx, id)
	if err != nil {
		return Request{}, err
	}
	ms, err := s.memberships(ctx, p.Approvers, by)
	if err != nil {
		return Request{}, fmt.Errorf("reject %s: %w", id, err)
	}
	if !anyMember(ms) {
		return Request{}, s.refuseAction(ctx, by, "request.reject", id, refuse(CodeNotApprover,
			"only members of %s may reject deploys to %s", strings.Join(teamStrings(p.Approvers), ", "), r.Environment))
	}
	return s.end(ctx, id, by, "request.reject", StateRejected, ActionRequestRejected,
		fmt.Sprintf("rejected by %s: %s", by.Login, reason), StateAwaitingApproval)
}

// Cancel withdraws a request that has not started. The requester may
// cancel their own; members of an approvers or admins team may cancel any.
func (s *Service) Cancel(ctx context.Context, id string, by Identity) (Request, error) {
	r, p, err := s.requestAndPolicy(ctx, id)
	if err != nil {
		return Request{}, err
	}
	if !by.Same(r.Requester) {
		ms, err := s.memberships(ctx, append(append([]Team{}, p.Approvers...), p.Admins...), by)
		if err != nil {
			return Request{}, fmt.Errorf("cancel %s: %w", id, err)
		}
		if !anyMember(ms) {
			return Request{}, s.refuseAction(ctx, by, "request.cancel", id, refuse(CodeNotAllowed,
				"only %s or an approver or admin may cancel request %s", r.Requester.Login, id))
		}
	}
	return s.end(ctx, id, by, "request.cancel", StateCanceled, ActionRequestCanceled,
		"canceled by "+by.Login, StateAwaitingApproval, StateQueued)
}

// end moves request id from one of from to the final state to, audited
// with action, or refuses when it is elsewhere.
func (s *Service) end(ctx context.Context, id string, by Identity, what string, to State, action, reason string, from ...State) (Request, error) {
	out := &outboxed{build: one(NotifyStateChanged, by)}
	updated, err := s.store.UpdateRequest(ctx, id, func(cur *Request) ([]AuditEvent, error) {
		if !stateIn(cur.State, from) {
			return nil, refuse(CodeWrongState, "request %s is %s; it can no longer be changed that way", cur.ID, cur.State)
		}
		prev := cur.State
		if err := cur.transition(to, reason); err != nil {
			return nil, err
		}
		return []AuditEvent{
			{Actor: actorOf(by), Action: action, Subject: cur.ID, Data: map[string]any{"by": by.Login, "reason": reason}},
			stateEvent(cur, prev, actorOf(by)),
		}, nil
	}, out.Notes)
	if ref, ok := AsRefusal(err); ok {
		return Request{}, s.refuseAction(ctx, by, what, id, ref)
	}
	if err != nil {
		return Request{}, fmt.Errorf("%s %s: %w", what, id, err)
	}
	s.deliver(ctx, out, updated)
	return updated, nil
}

func stateIn(s State, in []State) bool {
	for _, x := range in {
		if s == x {
			return true
		}
	}
	return false
}

// requestAndPolicy reads a request and the policy of its environment; an
// unknown request is a refusal, not a system error.
func (s *Service) requestAndPolicy(ctx context.Context, id string) (Request, *EnvironmentPolicy, error) {
	r, err := s.store.Request(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Request{}, nil, refuse(CodeWrongState, "there is no request %s", id)
	}
	if err != nil {
		return Request{}, nil, fmt.Errorf("reading request %s: %w", id, err)
	}
	p, ok := s.policies.Environment(r.Repo, r.Environment)
	if !ok {
		return Request{}, nil, refuse(CodeUnknownEnv, "%s is no longer configured for %s", r.Environment, r.Repo)
	}
	return r, p, nil
}

// ExpireStale moves requests whose approval deadline passed to expired.
// The serve loop calls it periodically; it returns how many expired.
func (s *Service) ExpireStale(ctx context.Context) (int, error) {
	rs, err := s.store.ListRequests(ctx, RequestFilter{States: []State{StateAwaitingApproval}, Limit: 10000})
	if err != nil {
		return 0, fmt.Errorf("listing requests awaiting approval: %w", err)
	}
	n := 0
	for _, r := range rs {
		if s.now().Before(r.ApprovalDeadline) {
			continue
		}
		out := &outboxed{build: one(NotifyStateChanged, Identity{})}
		updated, err := s.store.UpdateRequest(ctx, r.ID, func(cur *Request) ([]AuditEvent, error) {
			if cur.State != StateAwaitingApproval || s.now().Before(cur.ApprovalDeadline) {
				return nil, errSkip
			}
			if err := cur.transition(StateExpired, "not approved in time"); err != nil {
				return nil, err
			}
			return []AuditEvent{
				{Actor: "tollgate", Action: ActionRequestExpired, Subject: cur.ID, Data: map[string]any{
					"deadline": cur.ApprovalDeadline, "approvals": len(cur.ValidApprovals(s.now())), "required": cur.RequiredApprovals}},
				stateEvent(cur, StateAwaitingApproval, "tollgate"),
			}, nil
		}, out.Notes)
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("expiring request %s: %w", r.ID, err)
		}
		n++
		s.deliver(ctx, out, updated)
	}
	return n, nil
}

// errSkip aborts an UpdateRequest whose precondition no longer holds.
var errSkip = errors.New("nothing to do")

// AccessRevoked reacts to a person leaving a team or the org: their
// pending requests are canceled, their approvals on requests still
// awaiting approval are revoked, and their Slack links removed, all
// audited under access.revoked. source says what reported it
// ("membership webhook", "daily reconciliation").
func (s *Service) AccessRevoked(ctx context.Context, who Identity, source string) error {
	canceled, revoked, err := s.withdrawPending(ctx, who, source)
	if err != nil {
		return err
	}
	ev := AuditEvent{Actor: "tollgate", Action: ActionAccessRevoked, Subject: who.Login, Data: map[string]any{
		"login": who.Login, "github_id": who.GitHubID, "source": source,
		"canceled_requests": canceled, "revoked_approvals_on": revoked}}
	if who.GitHubID != 0 {
		links, err := s.store.DeleteLinks(ctx, ChatIdentity{}, who.GitHubID, AuditEvent{Actor: "tollgate",
			Action: ActionIdentityUnlinked, Subject: who.Login, Data: map[string]any{"github_id": who.GitHubID, "reason": "access revoked"}})
		if err != nil {
			return fmt.Errorf("access revoked for %s: removing Slack links: %w", who.Login, err)
		}
		ev.Data.(map[string]any)["slack_links_removed"] = len(links)
	}
	if err := s.store.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("access revoked for %s: auditing: %w", who.Login, err)
	}
	return nil
}

// withdrawPending cancels who's pending requests and revokes their
// approvals on requests awaiting approval, where, asked live, they no
// longer hold the role it takes; it returns the ids of both.
func (s *Service) withdrawPending(ctx context.Context, who Identity, source string) (canceled, revoked []string, err error) {
	pending, err := s.store.ListRequests(ctx, RequestFilter{
		States: []State{StateAwaitingApproval, StateQueued}, Limit: 10000})
	if err != nil {
		return nil, nil, fmt.Errorf("access revoked for %s: listing pending requests: %w", who.Login, err)
	}
	for _, r := range pending {
		mine := r.Requester.Same(who)
		if !mine && !(r.State == StateAwaitingApproval && hasApprovalBy(&r, who)) {
			continue
		}
		// Leaving one team need not end someone's rights: ask again, live.
		still, err := s.stillEntitled(ctx, &r, who, mine)
		if err != nil {
			return nil, nil, fmt.Errorf("access revoked for %s: %w", who.Login, err)
		}
		if still {
			continue
		}
		out := &outboxed{build: func(u Request) []Notification {
			if u.State != StateCanceled {
				return nil // an approval revoked: the request shows it at its next step
			}
			return one(NotifyStateChanged, Identity{})(u)
		}}
		updated, err := s.store.UpdateRequest(ctx, r.ID, func(cur *Request) ([]AuditEvent, error) {
			return s.revokeOn(cur, who, source)
		}, out.Notes)
		if errors.Is(err, errSkip) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("access revoked for %s: updating request %s: %w", who.Login, r.ID, err)
		}
		s.deliver(ctx, out, updated)
		if updated.State == StateCanceled {
			canceled = append(canceled, updated.ID)
		} else {
			revoked = append(revoked, updated.ID)
		}
	}
	return canceled, revoked, nil
}

// stillEntitled reports whether who still holds the role r needs from
// them: deployer (or emergency member) for their own request, approver for
// an approval.
func (s *Service) stillEntitled(ctx context.Context, r *Request, who Identity, requester bool) (bool, error) {
	p, ok := s.policies.Environment(r.Repo, r.Environment)
	if !ok {
		return false, nil
	}
	teams := p.Approvers
	if requester {
		teams = p.Deployers
		if r.Trigger == TriggerEmergency {
			teams = p.Emergency
		}
	}
	ms, err := s.memberships(ctx, teams, who)
	if err != nil {
		return false, err
	}
	return anyMember(ms), nil
}

func hasApprovalBy(r *Request, who Identity) bool {
	for _, a := range r.Approvals {
		if a.RevokedAt.IsZero() && a.Approver.Same(who) {
			return true
		}
	}
	return false
}

// revokeOn cancels cur when who requested it, else revokes who's approvals.
func (s *Service) revokeOn(cur *Request, who Identity, source string) ([]AuditEvent, error) {
	now := s.now().UTC()
	if cur.Requester.Same(who) && (cur.State == StateAwaitingApproval || cur.State == StateQueued) {
		prev := cur.State
		if err := cur.transition(StateCanceled, fmt.Sprintf("%s lost deploy access (%s)", who.Login, source)); err != nil {
			return nil, err
		}
		return []AuditEvent{
			{Actor: "tollgate", Action: ActionRequestCanceled, Subject: cur.ID, Data: map[string]any{"reason": cur.StateReason}},
			stateEvent(cur, prev, "tollgate"),
		}, nil
	}
	if cur.State != StateAwaitingApproval {
		return nil, errSkip
	}
	n := 0
	for i := range cur.Approvals {
		if cur.Approvals[i].RevokedAt.IsZero() && cur.Approvals[i].Approver.Same(who) {
			cur.Approvals[i].RevokedAt = now
			n++
		}
	}
	if n == 0 {
		return nil, errSkip
	}
	return []AuditEvent{{Actor: "tollgate", Action: ActionApprovalRevoked, Subject: cur.ID,
		Data: map[string]any{"approver": who.Login, "approver_id": who.GitHubID, "source": source}}}, nil
}
