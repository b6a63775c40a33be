package bot

import (
	"context"
	"fmt"
	"strings"
)

// ReconcileSource is the source AccessRevoked records for the daily
// reconciliation.
const ReconcileSource = "daily reconciliation"

// ReconcileResult is what one reconciliation found.
type ReconcileResult struct {
	Members int        // organisation members listed
	Revoked []Identity // departed people whose links and pending work were removed
}

// Reconcile compares the organisation's members with everyone Tollgate
// still knows as linked or pending (requesters and approvers of requests
// not yet started), and revokes whoever left: the webhook path may have
// lost an event. Each revocation is audited under access.revoked (by
// AccessRevoked) and access.reconciled, with the revocation latency.
func (a *AccessReviews) Reconcile(ctx context.Context) (ReconcileResult, error) {
	s := a.svc
	members, err := a.cfg.Members.OrgMembers(ctx, a.cfg.Org)
	if err != nil {
		return ReconcileResult{}, fmt.Errorf("reconcile: listing members of %s: %w", a.cfg.Org, err)
	}
	if len(members) == 0 {
		// An empty answer is far likelier a broken token or API than an
		// organisation that lost everyone: refuse to revoke everybody.
		return ReconcileResult{}, fmt.Errorf("reconcile: GitHub listed no members of %s; refusing to revoke everyone", a.cfg.Org)
	}
	res := ReconcileResult{Members: len(members)}
	now := s.now().UTC()
	if err := s.compliance.MarkOrgMembersSeen(ctx, a.cfg.Org, members, now); err != nil {
		return res, fmt.Errorf("reconcile: recording members of %s: %w", a.cfg.Org, err)
	}
	byID, byLogin := map[int64]bool{}, map[string]bool{}
	for _, m := range members {
		if m.GitHubID != 0 {
			byID[m.GitHubID] = true
		}
		byLogin[strings.ToLower(m.Login)] = true
	}
	isMember := func(who Identity) bool {
		if who.GitHubID != 0 && byID[who.GitHubID] {
			return true
		}
		return byLogin[strings.ToLower(who.Login)]
	}
	known, err := a.knownPeople(ctx)
	if err != nil {
		return res, err
	}
	for _, who := range known {
		if isMember(who) {
			continue
		}
		if err := a.revokeDeparted(ctx, who); err != nil {
			return res, err
		}
		res.Revoked = append(res.Revoked, who)
	}
	return res, nil
}

// knownPeople lists, once each, the people with a Slack link or with
// pending requests or approvals.
func (a *AccessReviews) knownPeople(ctx context.Context) ([]Identity, error) {
	s := a.svc
	var out []Identity
	add := func(who Identity) {
		if who.Login == "" && who.GitHubID == 0 {
			return
		}
		for i, x := range out {
			if x.Same(who) {
				if out[i].GitHubID == 0 {
					out[i].GitHubID = who.GitHubID
				}
				return
			}
		}
		out = append(out, Identity{Login: who.Login, GitHubID: who.GitHubID})
	}
	links, err := s.compliance.ListLinks(ctx)
	if err != nil {
		return nil, fmt.Errorf("reconcile: listing Slack links: %w", err)
	}
	for _, l := range links {
		add(Identity{Login: l.GitHubLogin, GitHubID: l.GitHubID})
	}
	pending, err := s.store.ListRequests(ctx, RequestFilter{States: []State{StateAwaitingApproval, StateQueued}, Limit: 10000})
	if err != nil {
		return nil, fmt.Errorf("reconcile: listing pending requests: %w", err)
	}
	for _, r := range pending {
		add(r.Requester)
		for _, ap := range r.Approvals {
			if ap.RevokedAt.IsZero() {
				add(ap.Approver)
			}
		}
	}
	return out, nil
}

// revokeDeparted revokes who and audits the reconciliation with the
// latency from when they were last seen in the organisation.
func (a *AccessReviews) revokeDeparted(ctx context.Context, who Identity) error {
	s := a.svc
	lastSeen, seen, err := s.compliance.OrgMemberLastSeen(ctx, a.cfg.Org, who.Login)
	if err != nil {
		return fmt.Errorf("reconcile: when was %s last a member: %w", who.Login, err)
	}
	if err := s.AccessRevoked(ctx, who, ReconcileSource); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	revokedAt := s.now().UTC()
	data := map[string]any{"login": who.Login, "github_id": who.GitHubID, "org": a.cfg.Org,
		"revoked_at": revokedAt, "source": ReconcileSource, "latency_basis": "unknown"}
	if seen {
		// GitHub does not say when someone left; the last time a
		// reconciliation saw them bounds the latency from above.
		data["last_seen_member_at"] = lastSeen
		data["latency_seconds"] = int64(revokedAt.Sub(lastSeen).Seconds())
		data["latency_basis"] = "last_seen_member_at"
	}
	ev := AuditEvent{Actor: "tollgate", Action: ActionAccessReconciled, Subject: who.Login, Data: data}
	if err := s.store.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("reconcile: auditing the revocation of %s: %w", who.Login, err)
	}
	return nil
}
