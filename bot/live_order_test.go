package bot_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// Issue 10, also checked (real): what runs on an environment, and what a
// rollback returns to, follow the order releases went live, not the order
// requests were made. alice asks for A, then bob for B; B is approved and
// deploys first, A later: A is live, and a rollback returns to B.
func TestLiveAndRollbackFollowWhenReleasesWentLive(t *testing.T) {
	storetest.Run(t, testLiveAndRollbackFollowWhenReleasesWentLive)
}

func testLiveAndRollbackFollowWhenReleasesWentLive(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	const shaB, headB = "4444444444444444444444444444444444444444", "5555555555555555555555555555555555555555"
	prB := reviewedPR()
	prB.Number, prB.HeadSHA, prB.MergedSHA = 8, headB, shaB
	prB.Reviews[0].CommitID = headB
	w.changes.push("main", shaB)
	w.changes.prs[shaB] = prB

	a := w.submit(t, "a", bot.NewRequest{SHA: shaMain})
	w.clock.Advance(time.Minute)
	b := w.submit(t, "b", bot.NewRequest{SHA: shaB, Requester: bob})
	for _, id := range []string{b.Request.ID, a.Request.ID} {
		w.clock.Advance(time.Minute)
		if _, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: id, Approver: dave}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.svc.ProcessQueue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	live, ok, err := w.svc.Live(ctx, "acme/shop", "production")
	if err != nil || !ok || live.ID != a.Request.ID {
		t.Fatalf("live = %s (%v, %v), want A %s, which went live last", live.ID, ok, err, a.Request.ID)
	}
	rb := w.submit(t, "rb", bot.NewRequest{Trigger: bot.TriggerRollback})
	if rb.Request.SHA != shaB || rb.Request.Release != "rel-4444444" {
		t.Fatalf("rollback targets %s %s, want B's release rel-4444444", rb.Request.SHA, rb.Request.Release)
	}
}
