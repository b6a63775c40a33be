package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// Issue 10, defect 3: a queued request is rechecked, with fresh facts, the
// moment it would start. Each case approves alice's production request
// (carol approves), changes one fact while it waits in the queue, and then
// lets the worker take it.
func TestQueuedRequestIsRecheckedWhenItStarts(t *testing.T) {
	storetest.Run(t, testQueuedRequestIsRecheckedWhenItStarts)
}

func testQueuedRequestIsRecheckedWhenItStarts(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		change   func(w *world)
		want     bot.State
		reason   string // in the request's state reason
		required int    // approvals required afterwards, when back to awaiting approval
	}{
		{name: "nothing changed: it deploys", change: func(*world) {}, want: bot.StateSucceeded},
		{name: "the approval expired while it waited", change: func(w *world) { w.clock.Advance(2 * time.Hour) },
			want: bot.StateAwaitingApproval, reason: "carol's approval expired at 2025-03-14T11:00:00Z", required: 1},
		{name: "the approver left the approvers team", change: func(w *world) { w.dir.set("acme/approvers", "carol", false) },
			want: bot.StateAwaitingApproval, reason: "carol is no longer an active member of acme/approvers", required: 1},
		{name: "the policy now demands more approvals", change: func(w *world) { w.policies["acme/shop"]["production"].RequiredApprovals = 2 },
			want: bot.StateAwaitingApproval, reason: "0 of 2 required approvals still counted (carol approved under a policy that has changed since)", required: 2},
		{name: "the requester left the deployers team", change: func(w *world) { w.dir.set("acme/deployers", "alice", false) },
			want: bot.StateRejected, reason: "at start: only members of acme/deployers may deploy here"},
		{name: "the checks went red", change: func(w *world) {
			w.changes.checks[shaMain] = []bot.CheckResult{{Name: "ci/test", State: bot.CheckFailure}}
		}, want: bot.StateRejected, reason: "at start: checks on 1111111 are not green"},
		{name: "a freeze window began", change: func(w *world) {
			w.policies["acme/shop"]["production"].FreezeWindows = []bot.FreezeWindow{{Name: "launch", Start: t0, End: t0.Add(time.Hour)}}
		}, want: bot.StateCanceled, reason: `frozen by "launch"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			out := w.submit(t, "k1", bot.NewRequest{})
			if _, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: out.Request.ID, Approver: carol}); err != nil {
				t.Fatal(err)
			}
			if r, _ := w.svc.Request(ctx, out.Request.ID); r.State != bot.StateQueued {
				t.Fatalf("approved request is %s", r.State)
			}
			tt.change(w)
			if _, err := w.svc.ProcessQueue(ctx); err != nil {
				t.Fatal(err)
			}
			r, err := w.svc.Request(ctx, out.Request.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.State != tt.want || !strings.Contains(r.StateReason, tt.reason) {
				t.Fatalf("request is %s (%q), want %s with %q", r.State, r.StateReason, tt.want, tt.reason)
			}
			deployed := len(w.deployer.Calls()) > 0
			if deployed != (tt.want == bot.StateSucceeded) {
				t.Fatalf("deployer calls %v for a request that ended %s", w.deployer.Calls(), r.State)
			}
			if tt.want == bot.StateSucceeded {
				if got := w.auditData(t, r.ID, bot.ActionDeployStarted); len(got) != 1 ||
					!strings.Contains(got[0], `"policy_at_start":{"allowed":true`) || !strings.Contains(got[0], `"approvers":"carol"`) {
					t.Errorf("deploy.started = %v, want the decision at start and carol's approval", got)
				}
				return
			}
			if got := w.auditData(t, r.ID, bot.ActionPolicyRechecked); len(got) != 1 || !strings.Contains(got[0], `"to":"`+string(tt.want)+`"`) {
				t.Errorf("policy.rechecked = %v", got)
			}
			if notes := strings.Join(w.notes.Calls(), "\n"); !strings.Contains(notes, "state_changed "+r.ID+" "+string(tt.want)) {
				t.Errorf("people were not told; notifications:\n%s", notes)
			}
			if tt.want != bot.StateAwaitingApproval {
				return
			}
			if r.RequiredApprovals != tt.required || !r.ApprovalDeadline.After(w.clock.Now()) || len(r.ValidApprovals(w.clock.Now())) != 0 {
				t.Errorf("back to awaiting approval with %d required, deadline %s, %d approvals counting",
					r.RequiredApprovals, r.ApprovalDeadline, len(r.ValidApprovals(w.clock.Now())))
			}
			// A new round of approvals, under the policy in force, deploys it.
			if tt.name == "the approver left the approvers team" {
				w.dir.set("acme/approvers", "carol", true)
				if n := len(w.auditData(t, r.ID, bot.ActionApprovalRevoked)); n != 1 {
					t.Errorf("%d approval.revoked entries, want carol's", n)
				}
			}
			for _, who := range []bot.Identity{carol, dave}[:tt.required] {
				if _, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: r.ID, Approver: who}); err != nil {
					t.Fatalf("approval by %s in the new round: %v", who.Login, err)
				}
			}
			if _, err := w.svc.ProcessQueue(ctx); err != nil {
				t.Fatal(err)
			}
			if r, _ := w.svc.Request(ctx, r.ID); r.State != bot.StateSucceeded {
				t.Errorf("after a new round of approvals the request is %s (%s)", r.State, r.StateReason)
			}
		})
	}
}
