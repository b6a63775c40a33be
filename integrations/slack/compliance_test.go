package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	tgslack "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// messageWithButton waits for a message in ch (a channel, or a user's
// direct messages) that shows a button with actionID.
func (w *world) messageWithButton(ch, actionID string) slacktest.Message {
	w.t.Helper()
	var msg slacktest.Message
	w.eventually("a message in "+ch+" with "+actionID, func() bool {
		for _, m := range w.sl.Messages(ch) {
			if buttonValueIn(w.t, m.Blocks, actionID) != "" {
				msg = m
				return true
			}
		}
		return false
	})
	return msg
}

// clickIn is a click by user on a button of the message at ts in ch.
func (w *world) clickIn(user, ch, actionID, ts, value string) answer {
	w.t.Helper()
	return w.sendClick(slacktest.BlockActionParams{UserID: user, UserName: people[user], ChannelID: ch, MessageTS: ts,
		Message: w.sl.MessagePayload(ch, ts), ActionID: actionID, Value: value,
		ResponseURL: w.sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: ch, User: user, MessageTS: ts})})
}

// nextEphemeral sends via and returns the next ephemeral message user sees.
func (w *world) nextEphemeral(user string, via func() answer) string {
	w.t.Helper()
	before := len(w.sl.Ephemerals(user))
	if a := via(); a.status != 200 {
		w.t.Fatalf("Tollgate answered %d %s", a.status, a.body)
	}
	return w.ephemeral(user, before+1)
}

// emergencyDeployed has alice deploy to production through the emergency
// path and returns the request and its review message.
func (w *world) emergencyDeployed() (bot.Request, slacktest.Message) {
	w.t.Helper()
	if a := w.command("U0ALICE", "emergency production main INC-7 checkout is down"); !strings.Contains(a.body, "Working on") {
		w.t.Fatalf("/deploy emergency answered %d %s", a.status, a.body)
	}
	msg := w.messageWithButton(channel, tgslack.ActionReviewAcceptable)
	r := w.onlyRequest()
	if r.State != bot.StateSucceeded || r.Trigger != bot.TriggerEmergency {
		w.t.Fatalf("emergency request is %s (%s), want succeeded through the emergency path", r.State, r.Trigger)
	}
	return r, msg
}

// review returns the emergency review of id.
func (w *world) review(id string) bot.EmergencyReview {
	w.t.Helper()
	revs, err := w.svc.EmergencyReviews(context.Background(), false)
	if err != nil {
		w.t.Fatal(err)
	}
	for _, r := range revs {
		if r.RequestID == id {
			return r
		}
	}
	w.t.Fatalf("no emergency review of %s", id)
	return bot.EmergencyReview{}
}

// blocksText is everything a message's blocks say, for assertions.
func blocksText(blocks json.RawMessage) string { return string(blocks) }

func TestEmergencyReviewThroughSlack(t *testing.T) {
	w := newWorld(t)
	w.linkAll()
	r, msg := w.emergencyDeployed()

	var pretty bytes.Buffer
	if err := json.Indent(&pretty, msg.Blocks, "", "  "); err != nil {
		t.Fatal(err)
	}
	golden(t, "emergency_review_message.json", []byte(strings.ReplaceAll(pretty.String(), r.ID, "r-REQID")+"\n"))
	if v := buttonValueIn(t, msg.Blocks, tgslack.ActionReviewNotAcceptable); v != r.ID {
		t.Fatalf("not-acceptable button carries %q, want the request id %s", v, r.ID)
	}
	w.eventually("the review message recorded on the request", func() bool {
		return w.onlyRequest().ExternalRefs[tgslack.RefSlackReviewTS] == channel+":"+msg.TS
	})

	t.Run("the deployer's own review is refused and audited", func(t *testing.T) {
		got := w.nextEphemeral("U0ALICE", func() answer {
			return w.clickIn("U0ALICE", channel, tgslack.ActionReviewAcceptable, msg.TS, r.ID)
		})
		if want := "you deployed emergency change " + r.ID + "; another approver must review it"; !strings.Contains(got, want) {
			t.Errorf("alice was told %q, want %q", got, want)
		}
		if n := w.auditCount(bot.ActionActionRefused, string(bot.CodeSelfReview)); n != 1 {
			t.Errorf("%d audited self-review refusals, want 1", n)
		}
		if rev := w.review(r.ID); !rev.Pending() {
			t.Errorf("review recorded as %s by %s after a refused click", rev.Outcome, rev.Reviewer.Login)
		}
	})
	t.Run("an approver's review is recorded and shown in place", func(t *testing.T) {
		if a := w.clickIn("U0BOB", channel, tgslack.ActionReviewAcceptable, msg.TS, r.ID); a.status != 200 {
			t.Fatalf("click answered %d", a.status)
		}
		w.eventually("the review to be recorded", func() bool { rev := w.review(r.ID); return !rev.Pending() })
		rev := w.review(r.ID)
		if rev.Outcome != bot.ReviewAcceptable || rev.Reviewer.Login != "bob" {
			t.Fatalf("review = %s by %s, want acceptable by bob", rev.Outcome, rev.Reviewer.Login)
		}
		if n := w.auditCount(bot.ActionEmergencyReviewed, `"reviewer":"bob"`); n != 1 {
			t.Errorf("%d emergency.reviewed audit entries by bob, want 1", n)
		}
		var updated slacktest.Message
		w.eventually("the review message to show the verdict", func() bool {
			updated, _ = w.sl.Message(channel, msg.TS)
			return strings.Contains(blocksText(updated.Blocks), "*acceptable* by")
		})
		if buttonValueIn(t, updated.Blocks, tgslack.ActionReviewAcceptable) != "" {
			t.Errorf("review buttons still shown after the review")
		}
	})
	t.Run("a second review is refused", func(t *testing.T) {
		got := w.nextEphemeral("U0DAVE", func() answer {
			return w.clickIn("U0DAVE", channel, tgslack.ActionReviewAcceptable, msg.TS, r.ID)
		})
		if !strings.Contains(got, "was already reviewed by bob") {
			t.Errorf("dave was told %q", got)
		}
	})
}

func TestEmergencyReviewNotAcceptableAsksForANote(t *testing.T) {
	w := newWorld(t)
	w.linkAll()
	r, msg := w.emergencyDeployed() // carol wrote its PR: bob, another approver, reviews it

	if a := w.clickIn("U0BOB", channel, tgslack.ActionReviewNotAcceptable, msg.TS, r.ID); a.status != 200 {
		t.Fatalf("click answered %d", a.status)
	}
	views := w.sl.Views()
	if len(views) != 1 || !strings.Contains(string(views[0].View), tgslack.CallbackReviewNote) {
		t.Fatalf("%d modals opened, want the review note", len(views))
	}
	submit := func(note string) answer {
		p := slacktest.ViewSubmissionParams{UserID: "U0BOB", UserName: "bob", View: views[0].View,
			Values: map[string]map[string]string{"note": {"note_text": note}}}
		began := time.Now()
		resp, err := slacktest.ViewSubmission(context.Background(), w.srv.URL+tgslack.PathInteractions, signingSecret, p)
		return read(t, resp, err, began)
	}
	if a := submit("  "); !strings.Contains(a.body, `"response_action":"errors"`) {
		t.Fatalf("an empty note was accepted: %d %s", a.status, a.body)
	}
	if a := submit("no ticket, and the diff touched billing"); a.status != 200 || strings.Contains(a.body, "errors") {
		t.Fatalf("note submission answered %d %s", a.status, a.body)
	}
	w.eventually("the review to be recorded", func() bool { rev := w.review(r.ID); return !rev.Pending() })
	if rev := w.review(r.ID); rev.Outcome != bot.ReviewNotAcceptable || rev.Reviewer.Login != "bob" ||
		rev.Note != "no ticket, and the diff touched billing" {
		t.Fatalf("review = %s by %s (%q), want not acceptable by bob with his note", rev.Outcome, rev.Reviewer.Login, rev.Note)
	}
	w.eventually("the review message to show the note", func() bool {
		m, _ := w.sl.Message(channel, msg.TS)
		return strings.Contains(blocksText(m.Blocks), "*not acceptable* by") &&
			strings.Contains(blocksText(m.Blocks), "no ticket, and the diff touched billing")
	})
}

func TestEmergencyReviewRemindersAndOverdue(t *testing.T) {
	w := newWorld(t)
	w.linkAll()
	ctx := context.Background()
	r, msg := w.emergencyDeployed()
	sweep := func(after time.Duration) bot.SweepResult {
		t.Helper()
		w.clock.Add(after)
		res, err := w.svc.SweepEmergencyReviews(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	threadHas := func(text string) bool {
		for _, m := range w.sl.Thread(channel, msg.TS) {
			if strings.Contains(m.Text, text) && m.Broadcast {
				return true
			}
		}
		return false
	}

	if res := sweep(6*time.Hour + time.Minute); res.Reminded != 1 {
		t.Fatalf("first sweep sent %d reminders, want 1", res.Reminded)
	}
	if !threadHas("still awaits its review") {
		t.Errorf("the first reminder is not in the channel (under the review message, broadcast)")
	}
	for _, u := range []string{"U0BOB", "U0CAROL", "U0DAVE"} {
		if n := len(w.sl.Messages(u)); n != 0 {
			t.Errorf("%s got %d direct messages at the first reminder, want 0", people[u], n)
		}
	}

	sweep(6 * time.Hour)
	for _, u := range []string{"U0BOB", "U0CAROL", "U0DAVE"} {
		dm := w.messageWithButton(u, tgslack.ActionReviewAcceptable)
		if !strings.Contains(dm.Text, "still awaits its review") {
			t.Errorf("%s's reminder reads %q", people[u], dm.Text)
		}
	}
	if n := len(w.sl.Messages("U0ALICE")); n != 0 {
		t.Errorf("the deployer got %d direct reminders to review her own change", n)
	}

	if res := sweep(12 * time.Hour); res.Overdue != 1 {
		t.Fatalf("sweep past the deadline flagged %d overdue, want 1", res.Overdue)
	}
	if !threadHas("is *overdue* for review") {
		t.Errorf("overdue not flagged in the channel")
	}
	if m, _ := w.sl.Message(channel, msg.TS); !strings.Contains(blocksText(m.Blocks), "*overdue*") {
		t.Errorf("the review message does not show it is overdue")
	}
	if a := w.command("U0ALICE", "status production"); !strings.Contains(a.body, "emergency change "+r.ID) ||
		!strings.Contains(a.body, "OVERDUE") {
		t.Errorf("/deploy status does not flag the overdue change: %s", a.body)
	}

	// Bob reviews from his direct message; the channel's message shows it, late.
	dm := w.messageWithButton("U0BOB", tgslack.ActionReviewAcceptable)
	if a := w.clickIn("U0BOB", slacktest.DMChannel("U0BOB"), tgslack.ActionReviewAcceptable, dm.TS, r.ID); a.status != 200 {
		t.Fatalf("click answered %d", a.status)
	}
	w.eventually("the late review in the channel's message", func() bool {
		m, _ := w.sl.Message(channel, msg.TS)
		return strings.Contains(blocksText(m.Blocks), "late (due")
	})
	if a := w.command("U0ALICE", "status production"); strings.Contains(a.body, "emergency change "+r.ID) {
		t.Errorf("/deploy status still lists the reviewed change: %s", a.body)
	}
}

func TestStatusShowsFreezeWindowsInForce(t *testing.T) {
	now := time.Now()
	w := newWorld(t, func(_, staging *bot.EnvironmentPolicy) {
		staging.FreezeWindows = []bot.FreezeWindow{
			{Name: "release week", Start: now.Add(-time.Hour), End: now.Add(time.Hour)},
			{Name: "next quarter", Start: now.Add(90 * 24 * time.Hour), End: now.Add(91 * 24 * time.Hour)},
		}
	})
	w.linkAll()
	var answered struct{ Text string }
	if err := json.Unmarshal([]byte(w.command("U0ALICE", "status").body), &answered); err != nil {
		t.Fatal(err)
	}
	want := `:snowflake: freeze "release week" in force until ` + now.Add(time.Hour).UTC().Format("2006-01-02 15:04 UTC")
	if !strings.Contains(answered.Text, want) {
		t.Errorf("/deploy status = %s\nwant it to contain %q", answered.Text, want)
	}
	if strings.Contains(answered.Text, "next quarter") {
		t.Errorf("/deploy status shows a window not in force: %s", answered.Text)
	}
}

func TestAccessReviewSignOffThroughSlack(t *testing.T) {
	w := newWorld(t)
	w.linkAll()
	ctx := context.Background()

	got := w.nextEphemeral("U0CAROL", func() answer { return w.command("U0CAROL", "access-review") })
	if !strings.Contains(got, "Access review ar-") || !strings.Contains(got, "the first review") {
		t.Fatalf("carol was told %q", got)
	}
	ar, ok, err := w.st.LatestAccessReview(ctx, false)
	if err != nil || !ok {
		t.Fatalf("no access review recorded: %v", err)
	}
	if ar.TakenBy != "carol" || len(ar.Grants) == 0 {
		t.Fatalf("access review taken by %q with %d grants", ar.TakenBy, len(ar.Grants))
	}
	// dave is the only access reviewer: he is asked directly.
	msg := w.messageWithButton("U0DAVE", tgslack.ActionAccessNoChanges)
	if v := buttonValueIn(t, msg.Blocks, tgslack.ActionAccessChangesNeeded); v != ar.ID {
		t.Fatalf("sign-off button carries %q, want %s", v, ar.ID)
	}
	if !strings.Contains(blocksText(msg.Blocks), "acme/shop production · approve: bob, carol, dave") {
		t.Errorf("the sign-off message does not list who approves production:\n%s", msg.Blocks)
	}
	dm := slacktest.DMChannel("U0DAVE")

	t.Run("a non-reviewer's sign-off is refused and audited", func(t *testing.T) {
		got := w.nextEphemeral("U0BOB", func() answer {
			return w.clickIn("U0BOB", dm, tgslack.ActionAccessNoChanges, msg.TS, ar.ID)
		})
		if want := "only members of acme/access-reviewers may sign off access reviews"; !strings.Contains(got, want) {
			t.Errorf("bob was told %q, want %q", got, want)
		}
		if n := w.auditCount(bot.ActionActionRefused, string(bot.CodeNotAccessReviewer)); n != 1 {
			t.Errorf("%d audited refusals, want 1", n)
		}
		if _, signed, _ := w.st.LatestAccessReview(ctx, true); signed {
			t.Errorf("the review was signed off after a refused click")
		}
	})
	t.Run("a reviewer's sign-off is recorded and shown in place", func(t *testing.T) {
		if a := w.clickIn("U0DAVE", dm, tgslack.ActionAccessNoChanges, msg.TS, ar.ID); a.status != 200 {
			t.Fatalf("click answered %d", a.status)
		}
		var signed bot.AccessReview
		w.eventually("the sign-off", func() bool {
			var ok bool
			signed, ok, _ = w.st.LatestAccessReview(ctx, true)
			return ok
		})
		if signed.ID != ar.ID || signed.Outcome != bot.AccessNoChanges || signed.SignedOffBy.Login != "dave" {
			t.Fatalf("signed off %s as %s by %s, want %s no_changes by dave", signed.ID, signed.Outcome, signed.SignedOffBy.Login, ar.ID)
		}
		if n := w.auditCount(bot.ActionAccessReviewSignedOff, `"reviewer":"dave"`); n != 1 {
			t.Errorf("%d access_review.signed_off entries by dave, want 1", n)
		}
		w.eventually("the message to show the sign-off", func() bool {
			m, _ := w.sl.Message(dm, msg.TS)
			return strings.Contains(blocksText(m.Blocks), "*no changes* by") &&
				buttonValueIn(t, m.Blocks, tgslack.ActionAccessNoChanges) == ""
		})
	})
}

func TestAccessReviewCommandNeedsALink(t *testing.T) {
	w := newWorld(t)
	a := w.command("U0ERIN", "access-review")
	if !strings.Contains(a.body, "/deploy link") {
		t.Errorf("an unlinked user's /deploy access-review was answered %s", a.body)
	}
	if n := w.inboxSize(); n != 0 {
		t.Errorf("%d inbox items after a refused command, want 0", n)
	}
}

func TestLockReminderGoesToTheOwner(t *testing.T) {
	w := newWorld(t)
	w.linkAll()
	if got := w.nextEphemeral("U0CAROL", func() answer { return w.command("U0CAROL", "lock staging testing the new checkout") }); !strings.Contains(got, "locked by you") {
		t.Fatalf("carol was told %q", got)
	}
	w.clock.Add(5 * time.Hour)
	n, err := w.svc.RemindLocks(context.Background(), 4*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("RemindLocks sent %d, %v; want 1", n, err)
	}
	var dm []slacktest.Message
	w.eventually("carol's reminder", func() bool { dm = w.sl.Messages("U0CAROL"); return len(dm) == 1 })
	if !strings.Contains(dm[0].Text, "You have held the lock on acme/shop staging") || !strings.Contains(dm[0].Text, "testing the new checkout") {
		t.Errorf("carol's reminder reads %q", dm[0].Text)
	}
	for _, u := range []string{"U0ALICE", "U0BOB", "U0DAVE"} {
		if len(w.sl.Messages(u)) != 0 {
			t.Errorf("%s was reminded of carol's lock", people[u])
		}
	}
}
