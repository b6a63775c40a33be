package bot_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestAccessRevoked(t *testing.T) { storetest.Run(t, testAccessRevoked) }

func testAccessRevoked(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.policies["acme/shop"]["production"].RequiredApprovals = 2
	if err := w.svc.LinkIdentity(ctx, proved(bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U3"}, GitHubLogin: "carol", GitHubID: 3})); err != nil {
		t.Fatal(err)
	}
	byCarol := w.submit(t, "k1", bot.NewRequest{Requester: carol}).Request
	byAlice := w.submit(t, "k2", bot.NewRequest{}).Request
	if _, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: byAlice.ID, Approver: carol}); err != nil {
		t.Fatal(err)
	}
	// carol leaves the org: GitHub now says she is in no team.
	for _, team := range []string{"acme/deployers", "acme/approvers"} {
		w.dir.set(team, "carol", false)
	}
	if err := w.svc.AccessRevoked(ctx, carol, "organization member_removed webhook"); err != nil {
		t.Fatal(err)
	}
	got, _ := w.svc.Request(ctx, byCarol.ID)
	if got.State != bot.StateCanceled {
		t.Errorf("carol's own request is %s, want canceled", got.State)
	}
	got, _ = w.svc.Request(ctx, byAlice.ID)
	if got.State != bot.StateAwaitingApproval || len(got.ValidApprovals(w.clock.Now())) != 0 || got.Approvals[0].RevokedAt.IsZero() {
		t.Errorf("carol's approval still counts: %+v", got.Approvals)
	}
	// dave's approval alone no longer reaches 2.
	got, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: byAlice.ID, Approver: dave})
	if err != nil || got.State != bot.StateAwaitingApproval {
		t.Fatalf("after dave's approval: %s, %v", got.State, err)
	}
	if _, err := w.svc.IdentityFor(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U3"}); err == nil {
		t.Error("carol's Slack link survived")
	}
	data := w.auditData(t, "carol", "access.revoked")
	if len(data) != 1 || !strings.Contains(data[0], byCarol.ID) || !strings.Contains(data[0], `"slack_links_removed":1`) {
		t.Fatalf("access.revoked: %v", data)
	}
}

func TestAccessRevokedKeepsRightsFromAnotherTeam(t *testing.T) {
	storetest.Run(t, testAccessRevokedKeepsRightsFromAnotherTeam)
}

func testAccessRevokedKeepsRightsFromAnotherTeam(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	r := w.submit(t, "k1", bot.NewRequest{}).Request
	// alice left some team but is still in deployers.
	if err := w.svc.AccessRevoked(ctx, alice, "membership webhook"); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.svc.Request(ctx, r.ID); got.State != bot.StateAwaitingApproval {
		t.Fatalf("request of a still-entitled deployer is %s", got.State)
	}
}

func TestLocks(t *testing.T) { storetest.Run(t, testLocks) }

func testLocks(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	if _, err := w.svc.LockEnvironment(ctx, "acme/shop", "staging", bob, "db migration", 0); err != nil {
		t.Fatal(err)
	}
	_, err := w.svc.LockEnvironment(ctx, "acme/shop", "staging", alice, "mine", 0)
	wantRefusal(t, err, bot.CodeLocked, "staging is already locked by bob since 2025-03-14T10:00:00Z: db migration")

	// A lock blocks every trigger, merges included, for everyone but its owner.
	// A label names its PR's head, which is on main here.
	w.changes.prs[shaHead], w.changes.branches["main"][shaHead] = reviewedPR(), true
	for _, trig := range []bot.Trigger{bot.TriggerMerge, bot.TriggerLabel, bot.TriggerSlack, bot.TriggerGitHubDeployment} {
		in := bot.NewRequest{SourceKey: "k-" + string(trig), Repo: "acme/shop",
			Environment: "staging", Ref: "main", Trigger: trig, Requester: alice}
		if trig == bot.TriggerLabel {
			in.Ref, in.SHA = "", shaHead
		}
		_, err := w.svc.Submit(ctx, in)
		wantRefusal(t, err, bot.CodeLocked, "staging is locked by bob")
	}
	if out := w.submit(t, "k-owner", bot.NewRequest{Environment: "staging", Requester: bob}); out.Request.State != bot.StateQueued {
		t.Fatalf("the lock owner's request is %s", out.Request.State)
	}

	err = w.svc.UnlockEnvironment(ctx, "acme/shop", "staging", alice)
	wantRefusal(t, err, bot.CodeNotLockOwner, "locked by bob; only they or an admin may unlock it")
	if err := w.svc.UnlockEnvironment(ctx, "acme/shop", "staging", bob); err != nil {
		t.Fatalf("owner unlock: %v", err)
	}
	if _, err := w.svc.LockEnvironment(ctx, "acme/shop", "production", bob, "freeze for audit", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.UnlockEnvironment(ctx, "acme/shop", "production", dave); err != nil {
		t.Fatalf("admin unlock: %v", err)
	}
	released := w.auditData(t, "acme/shop production", "lock.released")
	if len(released) != 1 || !strings.Contains(released[0], `"how":"admin"`) || !strings.Contains(released[0], `"by":"dave"`) {
		t.Fatalf("admin unlock audit: %v", released)
	}
}

func TestQueuedRequestDoesNotStartUnderSomeoneElsesLock(t *testing.T) {
	storetest.Run(t, testQueuedRequestDoesNotStartUnderSomeoneElsesLock)
}

func testQueuedRequestDoesNotStartUnderSomeoneElsesLock(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	r := w.submit(t, "k", bot.NewRequest{Environment: "staging"}).Request
	if _, err := w.svc.LockEnvironment(ctx, "acme/shop", "staging", bob, "incident", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ProcessQueue(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := w.svc.Request(ctx, r.ID)
	if got.State != bot.StateCanceled || !strings.Contains(got.StateReason, "locked by bob") || len(w.deployer.Calls()) != 0 {
		t.Fatalf("queued request under a lock: %s (%s), deploys %v", got.State, got.StateReason, w.deployer.Calls())
	}
}

func TestEmergencyChange(t *testing.T) { storetest.Run(t, testEmergencyChange) }

func testEmergencyChange(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.policies["acme/shop"]["production"].FreezeWindows = []bot.FreezeWindow{{Name: "holidays", Start: t0.Add(-time.Hour), End: t0.Add(time.Hour)}}
	_, err := w.svc.Submit(ctx, bot.NewRequest{SourceKey: "e1", Repo: "acme/shop", Environment: "production",
		Ref: "main", Trigger: bot.TriggerEmergency, Requester: alice, Reason: "checkout down"})
	wantRefusal(t, err, bot.CodeNotEmergency, "only for members of acme/oncall")

	out := w.submit(t, "e2", bot.NewRequest{Trigger: bot.TriggerEmergency, Requester: erin, Reason: "checkout down"})
	if out.Request.State != bot.StateQueued {
		t.Fatalf("emergency request is %s, want queued without approvals", out.Request.State)
	}
	if _, err := w.svc.ProcessQueue(ctx); err != nil {
		t.Fatal(err)
	}
	if got := w.notes.Calls(); !slices.Contains(got, "emergency_review "+out.Request.ID+" succeeded") {
		t.Fatalf("no after-the-fact review asked for: %v", got)
	}
}

func TestRollbackReturnsToThePreviousReleaseAndLocks(t *testing.T) {
	storetest.Run(t, testRollbackReturnsToThePreviousReleaseAndLocks)
}

func testRollbackReturnsToThePreviousReleaseAndLocks(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	_, err := w.svc.Submit(ctx, bot.NewRequest{SourceKey: "rb0", Repo: "acme/shop", Environment: "staging",
		Trigger: bot.TriggerRollback, Requester: alice})
	wantRefusal(t, err, bot.CodeNothingToRollBack, "no earlier successful deploy")

	const shaNext = "4444444444444444444444444444444444444444"
	w.submit(t, "d1", bot.NewRequest{Environment: "staging"})
	w.clock.Advance(time.Minute)
	w.changes.push("main", shaNext)
	w.submit(t, "d2", bot.NewRequest{Environment: "staging"})
	if _, err := w.svc.ProcessQueue(ctx); err != nil {
		t.Fatal(err)
	}
	w.clock.Advance(time.Minute)
	rb := w.submit(t, "rb1", bot.NewRequest{Environment: "staging", Trigger: bot.TriggerRollback}).Request
	if rb.SHA != shaMain || rb.Release != "rel-1111111" {
		t.Fatalf("rollback targets %s %s, want the previous release", rb.SHA, rb.Release)
	}
	if _, err := w.svc.ProcessQueue(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"deploy acme/shop staging 1111111", "deploy acme/shop staging 4444444", "rollback acme/shop staging 1111111"}
	if got := w.deployer.Calls(); !slices.Equal(got, want) {
		t.Fatalf("deployer calls:\n%s", joined(got))
	}
	l, err := w.svc.EnvironmentLock(ctx, "acme/shop", "staging")
	if err != nil || l == nil || l.Owner.Login != "alice" {
		t.Fatalf("no lock after rollback: %+v, %v", l, err)
	}
	// The next merge by someone else does not redeploy the bad change.
	_, err = w.svc.Submit(ctx, bot.NewRequest{SourceKey: "d3", Repo: "acme/shop", Environment: "staging",
		Ref: "main", Trigger: bot.TriggerMerge, Requester: carol})
	wantRefusal(t, err, bot.CodeLocked, "locked by alice")
}

func TestRejectAndCancel(t *testing.T) { storetest.Run(t, testRejectAndCancel) }

func testRejectAndCancel(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	r1 := w.submit(t, "k1", bot.NewRequest{}).Request
	_, err := w.svc.Reject(ctx, r1.ID, erin, "not now")
	wantRefusal(t, err, bot.CodeNotApprover, "only members of acme/approvers may reject")
	_, err = w.svc.Reject(ctx, r1.ID, carol, "")
	wantRefusal(t, err, bot.CodeReasonMissing, "say why")
	if got, err := w.svc.Reject(ctx, r1.ID, carol, "release freeze tomorrow"); err != nil || got.State != bot.StateRejected {
		t.Fatalf("reject: %s, %v", got.State, err)
	}
	_, err = w.svc.Approve(ctx, bot.ApproveInput{RequestID: r1.ID, Approver: dave})
	wantRefusal(t, err, bot.CodeWrongState, "is rejected, not awaiting approval")

	r2 := w.submit(t, "k2", bot.NewRequest{}).Request
	_, err = w.svc.Cancel(ctx, r2.ID, erin)
	wantRefusal(t, err, bot.CodeNotAllowed, "only alice or an approver or admin may cancel")
	if got, err := w.svc.Cancel(ctx, r2.ID, alice); err != nil || got.State != bot.StateCanceled {
		t.Fatalf("cancel: %s, %v", got.State, err)
	}
	_, err = w.svc.Cancel(ctx, r2.ID, alice)
	wantRefusal(t, err, bot.CodeWrongState, "is canceled")
	_, err = w.svc.Cancel(ctx, "r-nope22", alice)
	wantRefusal(t, err, bot.CodeWrongState, "there is no request r-nope22")
}

func TestSlackLinks(t *testing.T) { storetest.Run(t, testSlackLinks) }

func testSlackLinks(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	_, err := w.svc.IdentityFor(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"})
	wantRefusal(t, err, bot.CodeNotLinked, "/deploy link")
	if err := w.svc.LinkIdentity(ctx, proved(bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"}, GitHubLogin: "alice", GitHubID: 1})); err != nil {
		t.Fatal(err)
	}
	id, err := w.svc.IdentityFor(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"})
	if err != nil || id.Login != "alice" || id.GitHubID != 1 || id.ChatUser != "T1/U1" {
		t.Fatalf("identity %+v, %v", id, err)
	}
	if err := w.svc.Unlink(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"}); err != nil {
		t.Fatal(err)
	}
	wantRefusal(t, w.svc.Unlink(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"}), bot.CodeNotLinked, "not linked")
	if got := w.auditActions(t, "T1/U1"); !slices.Equal(got, []string{"action.refused", "identity.linked", "identity.unlinked"}) {
		t.Fatalf("audit: %v", got)
	}
}
