package bot_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// deployEmergency submits and runs an emergency change by erin (oncall).
func deployEmergency(t *testing.T, w *complianceWorld, key, reason string) bot.Request {
	t.Helper()
	out := w.submit(t, key, bot.NewRequest{Trigger: bot.TriggerEmergency, Requester: erin, Reason: reason})
	if _, err := w.svc.ProcessQueue(context.Background()); err != nil {
		t.Fatal(err)
	}
	r, err := w.svc.Request(context.Background(), out.Request.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != bot.StateSucceeded {
		t.Fatalf("emergency change is %s (%s), want succeeded", r.State, r.StateReason)
	}
	return r
}

func TestEmergencyReviewRemindersOverdueAndVerdict(t *testing.T) {
	storetest.Run(t, testEmergencyReviewRemindersOverdueAndVerdict)
}

func testEmergencyReviewRemindersOverdueAndVerdict(t *testing.T) {
	ctx := context.Background()
	w := newComplianceWorld(t)
	w.dir.set("acme/approvers", "erin", true) // erin approves too, but never her own change
	// A freeze is in force: the emergency path overrides it.
	w.policies["acme/shop"]["production"].FreezeWindows = []bot.FreezeWindow{{Name: "launch", Start: t0.Add(-time.Hour), End: t0.Add(48 * time.Hour)}}
	r := deployEmergency(t, w, "e1", "checkout returns 500")

	if got := lines(w.rec.take(bot.NotifyEmergencyReview)); got != "emergency_review approvers "+r.ID {
		t.Fatalf("review request notifications:\n%s", got)
	}
	rev, err := w.svc.EmergencyReviews(ctx, true)
	if err != nil || len(rev) != 1 {
		t.Fatalf("pending reviews = %v, %v", rev, err)
	}
	if !rev[0].DueAt.Equal(t0.Add(24*time.Hour)) || !rev[0].Deployer.Same(erin) || rev[0].Reason != "checkout returns 500" {
		t.Fatalf("review opened as %+v", rev[0])
	}

	steps := []struct {
		name        string
		at          time.Duration // after the deploy
		wantNotify  string
		wantOverdue bool
	}{
		{"before the first beat nothing goes out", 5 * time.Hour, "", false},
		{"first reminder goes to the channel", 6 * time.Hour, "emergency_review_reminder channel " + r.ID, false},
		{"a second sweep in the same beat sends nothing", 7 * time.Hour, "", false},
		{"second reminder goes to the approvers", 12 * time.Hour, "emergency_review_reminder approvers " + r.ID, false},
		{"past review_within it is flagged overdue and approvers are reminded",
			24 * time.Hour, "emergency_review_overdue channel " + r.ID + "\nemergency_review_reminder approvers " + r.ID, true},
		{"overdue is flagged once", 25 * time.Hour, "", true},
	}
	for _, st := range steps {
		w.at(st.at)
		if _, err := w.svc.SweepEmergencyReviews(ctx); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := lines(w.rec.take(bot.NotifyEmergencyReviewReminder, bot.NotifyEmergencyReviewOverdue)); got != st.wantNotify {
			t.Errorf("%s: notifications\n%s\nwant\n%s", st.name, got, st.wantNotify)
		}
		pending, _ := w.svc.EmergencyReviews(ctx, true)
		if got := pending[0].Overdue(w.clock.Now()); got != st.wantOverdue {
			t.Errorf("%s: overdue = %v", st.name, got)
		}
	}

	refusals := []struct {
		name    string
		by      bot.Identity
		outcome bot.ReviewOutcome
		note    string
		code    bot.RefusalCode
	}{
		{"the deployer cannot review her own change", erin, bot.ReviewAcceptable, "", bot.CodeSelfReview},
		{"a non-approver cannot review", mallory, bot.ReviewAcceptable, "", bot.CodeNotApprover},
		{"not acceptable needs a note", carol, bot.ReviewNotAcceptable, " ", bot.CodeNoteMissing},
		{"an unknown verdict is refused", carol, "fine", "", bot.CodeBadCommand},
	}
	for _, rf := range refusals {
		_, err := w.svc.ReviewEmergency(ctx, r.ID, rf.by, rf.outcome, rf.note)
		if ref, ok := bot.AsRefusal(err); !ok || ref.Code != rf.code {
			t.Errorf("%s: got %v, want refusal %s", rf.name, err, rf.code)
		}
	}
	if got := w.auditData(t, r.ID, bot.ActionActionRefused); len(got) != len(refusals) || !strings.Contains(got[0], `"code":"self_review"`) {
		t.Errorf("refusals audited as %v", got)
	}

	done, err := w.svc.ReviewEmergency(ctx, r.ID, carol, bot.ReviewAcceptable, "rollback plan was sound")
	if err != nil {
		t.Fatal(err)
	}
	if done.Outcome != bot.ReviewAcceptable || !done.Reviewer.Same(carol) || !done.Overdue(w.clock.Now()) {
		t.Fatalf("review recorded as %+v", done)
	}
	data := w.auditData(t, r.ID, bot.ActionEmergencyReviewed)
	if len(data) != 1 || !strings.Contains(data[0], `"late":true`) || !strings.Contains(data[0], `"latency_seconds":90000`) ||
		!strings.Contains(data[0], `"reviewer":"carol"`) {
		t.Fatalf("emergency.reviewed data = %v", data)
	}
	if _, err := w.svc.ReviewEmergency(ctx, r.ID, dave, bot.ReviewNotAcceptable, "no"); err == nil {
		t.Fatal("a second review was accepted")
	} else if ref, _ := bot.AsRefusal(err); ref == nil || ref.Code != bot.CodeAlreadyReviewed {
		t.Fatalf("second review: %v", err)
	}

	w.at(48 * time.Hour)
	if res, err := w.svc.SweepEmergencyReviews(ctx); err != nil || res != (bot.SweepResult{}) {
		t.Fatalf("sweep after the review = %+v, %v", res, err)
	}
	want := []string{
		"emergency.review_opened tollgate " + r.ID,
		"emergency.review_reminded tollgate " + r.ID,
		"emergency.review_reminded tollgate " + r.ID,
		"emergency.review_overdue tollgate " + r.ID,
		"emergency.review_reminded tollgate " + r.ID,
		"emergency.reviewed carol " + r.ID,
	}
	if got := w.auditOf(t, bot.ActionEmergencyReviewOpened, bot.ActionEmergencyReviewReminded,
		bot.ActionEmergencyReviewOverdue, bot.ActionEmergencyReviewed); lines(got) != lines(want) {
		t.Fatalf("audit trail\n%s\nwant\n%s", lines(got), lines(want))
	}
}

func TestEmergencyReviewOpenedBySweepWhenTheWorkerCouldNot(t *testing.T) {
	storetest.Run(t, testEmergencyReviewOpenedBySweepWhenTheWorkerCouldNot)
}

func testEmergencyReviewOpenedBySweepWhenTheWorkerCouldNot(t *testing.T) {
	ctx := context.Background()
	w := newComplianceWorld(t)
	w.svc = w.service(t, failingOpen{w.store})
	r := deployEmergency(t, w, "e1", "db failover")
	if got := w.auditOf(t, bot.ActionEmergencyReviewOpened); len(got) != 0 {
		t.Fatalf("review opened despite the failing store: %v", got)
	}
	w.svc = w.service(t, nil)
	res, err := w.svc.SweepEmergencyReviews(ctx)
	if err != nil || res.Opened != 1 {
		t.Fatalf("sweep = %+v, %v; want the missing review opened", res, err)
	}
	if got := lines(w.rec.take(bot.NotifyEmergencyReview)); got != "emergency_review approvers "+r.ID {
		t.Fatalf("notifications: %s", got)
	}
	if res, _ := w.svc.SweepEmergencyReviews(ctx); res.Opened != 0 {
		t.Fatalf("review opened twice")
	}
}

func TestEmergencyPathFailsClosedWithoutAReviewStore(t *testing.T) {
	storetest.Run(t, testEmergencyPathFailsClosedWithoutAReviewStore)
}

func testEmergencyPathFailsClosedWithoutAReviewStore(t *testing.T) {
	w := newComplianceWorld(t)
	svc, err := bot.New(bot.Config{Store: storeOnly{w.store}, Directory: w.dir, Changes: w.changes,
		Deployer: w.deployer, Policies: w.policies, Clock: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	_, err = svc.Submit(context.Background(), bot.NewRequest{SourceKey: "e1", Repo: "acme/shop", Environment: "production",
		Ref: "main", Trigger: bot.TriggerEmergency, Requester: erin, Reason: "site down"})
	if err == nil || !strings.Contains(err.Error(), "cannot be reviewed") {
		t.Fatalf("emergency change without a review store: %v", err)
	}
	if rs, _ := w.store.ListRequests(context.Background(), bot.RequestFilter{}); len(rs) != 0 {
		t.Fatalf("requests stored: %d", len(rs))
	}
}

func TestEmergencyTicket(t *testing.T) {
	ops := regexp.MustCompile(`OPS-[0-9]+`)
	cases := []struct {
		name      string
		env, emer *regexp.Regexp
		trigger   bot.Trigger
		reason    string
		wantCode  bot.RefusalCode // empty: allowed
		wantTick  string
	}{
		{name: "emergency-only ticket missing", emer: ops, trigger: bot.TriggerEmergency, reason: "site down", wantCode: bot.CodeTicketMissing},
		{name: "emergency-only ticket in the reason", emer: ops, trigger: bot.TriggerEmergency, reason: "site down OPS-12", wantTick: "OPS-12"},
		{name: "emergency-only ticket does not apply to normal deploys", emer: ops, trigger: bot.TriggerSlack},
		{name: "environment ticket applies to the emergency path", env: ops, trigger: bot.TriggerEmergency, reason: "site down", wantCode: bot.CodeTicketMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := prodPolicy()
			p.TicketPattern, p.EmergencyTicketPattern = tc.env, tc.emer
			req := &bot.Request{Repo: "acme/shop", Environment: "production", SHA: shaMain, Trigger: tc.trigger,
				Requester: alice, Reason: tc.reason}
			f := goodFacts()
			if tc.trigger == bot.TriggerEmergency {
				f.Memberships = []bot.Membership{{Team: oncall, Login: "alice", Member: true}}
			}
			d := bot.Evaluate(p, req, f)
			if tc.wantCode == "" && !d.Allowed {
				t.Fatalf("refused: %s", d.Reason)
			}
			if tc.wantCode != "" && d.Code != tc.wantCode {
				t.Fatalf("decision %v %s, want %s", d.Allowed, d.Code, tc.wantCode)
			}
			if d.Ticket != tc.wantTick {
				t.Fatalf("ticket %q, want %q", d.Ticket, tc.wantTick)
			}
		})
	}
	if a, b := prodPolicy(), prodPolicy(); func() bool { b.EmergencyTicketPattern = ops; return a.Hash() == b.Hash() }() {
		t.Fatal("an emergency ticket requirement does not change the policy hash")
	}
}
