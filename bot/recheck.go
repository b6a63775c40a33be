package bot

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ActionPolicyRechecked records the policy evaluated again when a queued
// request was about to start and found no longer to hold. Data: decision
// (the Decision at start), approvals_counted, approvals_required, dropped
// (why each approval that no longer counts does not), to (the new state).
const ActionPolicyRechecked = "policy.rechecked"

// A request waits in the queue for its environment to be free; the facts
// it was allowed on can change meanwhile. So the moment it would start,
// the whole policy is evaluated again with fresh facts (the requester's
// teams live, branch, PR review, checks, freeze, lock) and its approvals
// are counted again: each must still be of this SHA, under the
// configuration in force now, unexpired (approval_ttl), and by someone
// who is still in an approvers team and is neither the requester nor the
// PR author. Then:
//
//   - all holds: the deploy starts, with the decision at start recorded
//     in deploy.started;
//   - the environment is locked or frozen now: canceled, as before;
//   - another check fails (the requester left the deployers, checks went
//     red, ...): rejected;
//   - the policy holds but the approvals no longer suffice (expired, the
//     configuration changed, an approver left, more are required now):
//     back to awaiting approval with a fresh deadline; approvals that
//     still count are kept, those of people no longer entitled revoked.
//
// Each outcome but the start is audited as policy.rechecked with the
// reason, and notified (the Slack thread, the PR comment).

// startCheck is what the recheck at start found.
type startCheck struct {
	decision Decision
	to       State      // StateRunning, StateAwaitingApproval, StateRejected or StateCanceled
	reason   string     // why, when not StateRunning
	valid    []Approval // approvals that still count
	revoke   []Approval // approvals of people no longer entitled to approve
	dropped  []string   // why each approval that does not count does not
	required int
	p        *EnvironmentPolicy
}

// recheckAtStart evaluates r again with fresh facts. An error means the
// facts could not be read: the request does not start (fail closed).
func (s *Service) recheckAtStart(ctx context.Context, r *Request) (startCheck, error) {
	now := s.now().UTC()
	p, ok := s.policies.Environment(r.Repo, r.Environment)
	if !ok {
		return startCheck{to: StateCanceled, reason: fmt.Sprintf("%s is no longer configured for %s", r.Environment, r.Repo)}, nil
	}
	ms, err := s.memberships(ctx, roleTeams(p, r.Trigger), r.Requester)
	if err != nil {
		return startCheck{}, fmt.Errorf("rechecking request %s before it starts: %w", r.ID, err)
	}
	facts, err := s.gatherFacts(ctx, p, r, now, ms)
	if err != nil {
		return startCheck{}, fmt.Errorf("rechecking request %s before it starts: %w", r.ID, err)
	}
	if r.Trigger == TriggerEmergency && r.Decision != nil {
		// The requester's assertion was checked and recorded at
		// submission; the change it confirmed is the one starting.
		if mc, ok := r.Decision.Check(CheckEmergencyMFA); ok && mc.Outcome == OutcomePass {
			facts.MFAConfirmed = mc.Detail
		}
	}
	c := startCheck{decision: Evaluate(p, r, facts), p: p}
	if !c.decision.Allowed {
		c.to, c.reason = StateRejected, "at start: "+c.decision.Reason
		if onlyEnvironmentConditions(c.decision) {
			c.to, c.reason = StateCanceled, c.decision.Reason
		}
		return c, nil
	}
	if r.Trigger == TriggerEmergency {
		c.to = StateRunning
		return c, nil
	}
	c.required = p.RequiredApprovals
	if err := s.countApprovalsAtStart(ctx, &c, r, facts.PR, now); err != nil {
		return startCheck{}, fmt.Errorf("rechecking the approvals of request %s: %w", r.ID, err)
	}
	if len(c.valid) < c.required {
		c.to = StateAwaitingApproval
		c.reason = fmt.Sprintf("before the deploy started, %d of %d required approvals still counted", len(c.valid), c.required)
		if len(c.dropped) > 0 {
			c.reason += " (" + strings.Join(c.dropped, "; ") + ")"
		}
		return c, nil
	}
	c.to = StateRunning
	return c, nil
}

// onlyEnvironmentConditions reports whether every failed check is a lock
// or a freeze window: conditions of the environment, not of the request.
func onlyEnvironmentConditions(d Decision) bool {
	for _, c := range d.Checks {
		if c.Outcome == OutcomeFail && c.Name != CheckLock && c.Name != CheckFreeze {
			return false
		}
	}
	return true
}

// countApprovalsAtStart sorts r's approvals into those that still count
// and those that do not, with the reason for each.
func (s *Service) countApprovalsAtStart(ctx context.Context, c *startCheck, r *Request, pr *PullRequest, now time.Time) error {
	hash := c.p.Hash()
	var seen []Identity
	for _, a := range r.Approvals {
		who := a.Approver.Login
		switch {
		case !a.RevokedAt.IsZero():
			continue
		case a.SHA != r.SHA:
			c.dropped = append(c.dropped, fmt.Sprintf("%s approved %s, not %s", who, short(a.SHA), short(r.SHA)))
			continue
		case a.ConfigHash != hash:
			c.dropped = append(c.dropped, fmt.Sprintf("%s approved under a policy that has changed since", who))
			continue
		case !now.Before(a.ExpiresAt):
			c.dropped = append(c.dropped, fmt.Sprintf("%s's approval expired at %s", who, a.ExpiresAt.UTC().Format(time.RFC3339)))
			continue
		case a.Approver.Same(r.Requester):
			c.dropped = append(c.dropped, fmt.Sprintf("%s is the requester", who))
			c.revoke = append(c.revoke, a)
			continue
		case pr != nil && a.Approver.Same(pr.Author):
			c.dropped = append(c.dropped, fmt.Sprintf("%s wrote PR #%d", who, pr.Number))
			c.revoke = append(c.revoke, a)
			continue
		case containsIdentity(seen, a.Approver):
			continue
		}
		ms, err := s.memberships(ctx, c.p.Approvers, a.Approver)
		if err != nil {
			return err
		}
		if !anyMember(ms) {
			c.dropped = append(c.dropped, fmt.Sprintf("%s is no longer an active member of %s", who,
				strings.Join(teamStrings(c.p.Approvers), ", ")))
			c.revoke = append(c.revoke, a)
			continue
		}
		seen = append(seen, a.Approver)
		c.valid = append(c.valid, a)
	}
	return nil
}

func containsIdentity(ids []Identity, who Identity) bool {
	for _, x := range ids {
		if x.Same(who) {
			return true
		}
	}
	return false
}

// applyStart writes the outcome of the recheck on cur (queued) and
// returns the audit events of the transition.
func (s *Service) applyStart(cur *Request, c startCheck, now time.Time) ([]AuditEvent, error) {
	prev := cur.State
	if c.to == StateRunning {
		if err := cur.transition(StateRunning, "deploying"); err != nil {
			return nil, err
		}
		cur.StartedAt = now
		return []AuditEvent{
			{Actor: "tollgate", Action: ActionDeployStarted, Subject: cur.ID, Data: map[string]any{
				"repo": cur.Repo, "environment": cur.Environment, "sha": cur.SHA, "trigger": cur.Trigger,
				"requester": cur.Requester.Login, "approvers": approverList(c.valid),
				"release": cur.Release, "policy_at_start": c.decision}},
			stateEvent(cur, prev, "tollgate"),
		}, nil
	}
	if c.to == StateCanceled && c.p == nil {
		if err := cur.transition(StateCanceled, c.reason); err != nil {
			return nil, err
		}
		return []AuditEvent{
			{Actor: "tollgate", Action: ActionRequestCanceled, Subject: cur.ID, Data: map[string]any{"reason": c.reason}},
			stateEvent(cur, prev, "tollgate"),
		}, nil
	}
	events := []AuditEvent{{Actor: "tollgate", Action: ActionPolicyRechecked, Subject: cur.ID, Data: map[string]any{
		"decision": c.decision, "approvals_counted": approverList(c.valid), "approvals_required": c.required,
		"dropped": c.dropped, "to": c.to, "reason": c.reason}}}
	for _, a := range c.revoke {
		for i := range cur.Approvals {
			if cur.Approvals[i].Approver.Same(a.Approver) && cur.Approvals[i].RevokedAt.IsZero() {
				cur.Approvals[i].RevokedAt = now
			}
		}
		events = append(events, AuditEvent{Actor: "tollgate", Action: ActionApprovalRevoked, Subject: cur.ID,
			Data: map[string]any{"approver": a.Approver.Login, "approver_id": a.Approver.GitHubID,
				"reason": "no longer entitled to approve when the deploy was to start"}})
	}
	switch c.to {
	case StateCanceled:
		events = append(events, AuditEvent{Actor: "tollgate", Action: ActionRequestCanceled, Subject: cur.ID,
			Data: map[string]any{"reason": c.reason}})
	case StateRejected:
		cur.Decision = &c.decision
	case StateAwaitingApproval:
		// A new round of approvals under the policy in force now.
		cur.Decision = &c.decision
		cur.ConfigHash, cur.RequiredApprovals = c.decision.ConfigHash, c.required
		cur.ApprovalDeadline = now.Add(c.p.approvalTTL())
	}
	if err := cur.transition(c.to, c.reason); err != nil {
		return nil, err
	}
	return append(events, stateEvent(cur, prev, "tollgate")), nil
}
