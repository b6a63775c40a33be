package bot_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// Issue 10, defect 5: the after-the-fact reviewer of an emergency change
// obeys an approver's separation of duties. bob wrote the PR erin
// deployed through the emergency path and is an approver: he may not
// sign it off.
func TestEmergencyReviewerIsNotThePRAuthor(t *testing.T) {
	storetest.Run(t, testEmergencyReviewerIsNotThePRAuthor)
}

func testEmergencyReviewerIsNotThePRAuthor(t *testing.T) {
	ctx := context.Background()
	w := newComplianceWorld(t)
	r := deployEmergency(t, w, "e1", "checkout returns 500")
	if r.PR == nil || !r.PR.Author.Same(bob) {
		t.Fatalf("the change's PR is %+v, want bob's", r.PR)
	}
	_, err := w.svc.ReviewEmergency(ctx, r.ID, bob, bot.ReviewAcceptable, "")
	if ref, ok := bot.AsRefusal(err); !ok || ref.Code != bot.CodeAuthorReview || !strings.Contains(ref.Reason, "you wrote PR #7") {
		t.Fatalf("review by the PR author: %v, want refusal %s", err, bot.CodeAuthorReview)
	}
	if got := w.auditData(t, r.ID, bot.ActionActionRefused); len(got) != 1 || !strings.Contains(got[0], `"code":"author_review"`) {
		t.Errorf("refusal audited as %v", got)
	}
	if rev, _ := w.svc.EmergencyReviews(ctx, true); len(rev) != 1 {
		t.Fatalf("%d pending reviews after the refusal, want 1", len(rev))
	}
	done, err := w.svc.ReviewEmergency(ctx, r.ID, carol, bot.ReviewAcceptable, "")
	if err != nil || !done.Reviewer.Same(carol) {
		t.Fatalf("review by an independent approver: %+v, %v", done, err)
	}
}

// Issue 10, also checked: an emergency change that did not succeed may
// still have put its code live (a failure after the switch, a rollback
// after the health check, a crash mid-deploy): it is reviewed too, opened
// by the worker, by the crash recovery, or by the sweep.
func TestEmergencyThatDidNotSucceedIsReviewed(t *testing.T) {
	storetest.Run(t, testEmergencyThatDidNotSucceedIsReviewed)
}

func testEmergencyThatDidNotSucceedIsReviewed(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		outcome bot.DeployOutcome
		want    bot.State
	}{
		{"failed after the switch", bot.DeployOutcome{Result: bot.ResultFailed, Release: "rel-1",
			Error: "after_switch hook exited 1"}, bot.StateFailed},
		{"rolled back after the health check", bot.DeployOutcome{Result: bot.ResultRolledBack, Release: "rel-1",
			Error: "health check failed"}, bot.StateRolledBack},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newComplianceWorld(t)
			w.deployer.outcome = tc.outcome
			out := w.submit(t, "e1", bot.NewRequest{Trigger: bot.TriggerEmergency, Requester: erin, Reason: "site down"})
			if _, err := w.svc.ProcessQueue(ctx); err != nil {
				t.Fatal(err)
			}
			r, _ := w.svc.Request(ctx, out.Request.ID)
			if r.State != tc.want {
				t.Fatalf("emergency change is %s, want %s", r.State, tc.want)
			}
			if got := lines(w.rec.take(bot.NotifyEmergencyReview)); got != "emergency_review approvers "+r.ID {
				t.Fatalf("review notifications: %q", got)
			}
			if got := w.auditData(t, r.ID, bot.ActionEmergencyReviewOpened); len(got) != 1 ||
				!strings.Contains(got[0], `"result":"`+string(tc.want)+`"`) {
				t.Fatalf("emergency.review_opened entries: %v", got)
			}
		})
	}

	t.Run("interrupted by a crash", func(t *testing.T) {
		w := newComplianceWorld(t)
		w.deployer.hold, w.deployer.started = make(chan struct{}), make(chan string, 1)
		out := w.submit(t, "e1", bot.NewRequest{Trigger: bot.TriggerEmergency, Requester: erin, Reason: "site down"})
		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = w.svc.ProcessNext(runCtx)
		}()
		<-w.deployer.started
		// The process "dies": the next one finds the request running.
		restarted := w.service(t, nil)
		if n, err := restarted.RecoverInterrupted(ctx); err != nil || n != 1 {
			t.Fatalf("recovered %d, %v", n, err)
		}
		cancel()
		<-done
		if rev, err := restarted.EmergencyReviews(ctx, true); err != nil || len(rev) != 1 || rev[0].RequestID != out.Request.ID {
			t.Fatalf("pending reviews after the crash: %+v, %v", rev, err)
		}
	})

	t.Run("opened by the sweep when the worker could not", func(t *testing.T) {
		w := newComplianceWorld(t)
		w.svc = w.service(t, failingOpen{w.store})
		w.deployer.outcome = bot.DeployOutcome{Result: bot.ResultFailed, Error: "after_switch hook exited 1"}
		out := w.submit(t, "e1", bot.NewRequest{Trigger: bot.TriggerEmergency, Requester: erin, Reason: "site down"})
		if _, err := w.svc.ProcessQueue(ctx); err != nil {
			t.Fatal(err)
		}
		w.svc = w.service(t, nil)
		if res, err := w.svc.SweepEmergencyReviews(ctx); err != nil || res.Opened != 1 {
			t.Fatalf("sweep = %+v, %v; want the failed change's review opened", res, err)
		}
		if rev, _ := w.svc.EmergencyReviews(ctx, true); len(rev) != 1 || rev[0].RequestID != out.Request.ID {
			t.Fatalf("pending reviews: %+v", rev)
		}
	})
}
