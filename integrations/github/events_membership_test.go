package github_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
)

func TestAccessRemovedCancelsPendingWork(t *testing.T) {
	tests := []struct {
		name   string
		remove func(t *testing.T, w *hookWorld)
	}{
		{"membership removed from the team", func(t *testing.T, w *hookWorld) {
			w.gh.RemoveTeamMember("acme", "deployers", "carol")
			w.gh.RemoveTeamMember("acme", "approvers", "carol")
			p, err := w.gh.Payloads().MembershipRemoved("acme", "deployers", "carol", "admin")
			w.deliver(t, p, err)
		}},
		{"removed from the organization", func(t *testing.T, w *hookWorld) {
			w.gh.RemoveOrgMember("acme", "carol")
			p, err := w.gh.Payloads().OrganizationMemberRemoved("acme", "carol", "admin")
			w.deliver(t, p, err)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			w := newHookWorld(t)
			submit := func(key, login string) bot.Request {
				out, err := w.svc.Submit(ctx, bot.NewRequest{SourceKey: key, Repo: hookRepo, Environment: "regulated",
					Ref: "main", Trigger: bot.TriggerSlack, Requester: w.identity(login)})
				if err != nil {
					t.Fatal(err)
				}
				return out.Request
			}
			byCarol, byAlice := submit("k1", "carol"), submit("k2", "alice")
			if _, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: byAlice.ID, Approver: w.identity("carol")}); err != nil {
				t.Fatal(err)
			}
			// The memberships above are cached now; only the webhook's
			// invalidation lets the revocation see that carol is gone.
			tt.remove(t, w)

			got, _ := w.svc.Request(ctx, byCarol.ID)
			if got.State != bot.StateCanceled {
				t.Fatalf("carol's request is %s, want canceled", got.State)
			}
			got, _ = w.svc.Request(ctx, byAlice.ID)
			if len(got.Approvals) != 1 || got.Approvals[0].RevokedAt.IsZero() {
				t.Fatalf("carol's approval was not revoked: %+v", got.Approvals)
			}
			revoked := w.auditData(t, "carol", bot.ActionAccessRevoked)
			if len(revoked) != 1 || !strings.Contains(revoked[0], byCarol.ID) {
				t.Fatalf("access.revoked: %v", revoked)
			}
		})
	}
}

func TestMembershipAddedOnlyRefreshesTheCache(t *testing.T) {
	ctx := context.Background()
	w := newHookWorld(t)
	// erin is not a deployer; the refusal caches that answer.
	if _, err := w.svc.Submit(ctx, bot.NewRequest{SourceKey: "k1", Repo: hookRepo, Environment: "staging",
		Ref: "main", Trigger: bot.TriggerSlack, Requester: w.identity("erin")}); err == nil {
		t.Fatal("erin deployed before joining")
	}
	w.gh.SetTeamMember("acme", "deployers", "erin", "")
	p, err := w.gh.Payloads().MembershipAdded("acme", "deployers", "erin", "admin")
	w.deliver(t, p, err)
	out, err := w.svc.Submit(ctx, bot.NewRequest{SourceKey: "k2", Repo: hookRepo, Environment: "staging",
		Ref: "main", Trigger: bot.TriggerSlack, Requester: w.identity("erin")})
	if err != nil || out.Request.State != bot.StateQueued {
		t.Fatalf("after joining: %s %v", out.Request.State, err)
	}
	if got := w.auditData(t, "erin", bot.ActionAccessRevoked); len(got) != 0 {
		t.Fatalf("an addition revoked access: %v", got)
	}
}
