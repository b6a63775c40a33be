package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	tgslack "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// slackDeadline is how long Slack waits for an answer before it shows the
// user a timeout: a correctness bound on the acknowledgement path.
const slackDeadline = 3 * time.Second

// TestEverySlackRequestIsAnsweredWithinThreeSecondsUnderASlowGitHub: with
// every GitHub call held 5 s, commands, clicks and modal submissions are
// still acknowledged in time, and the slow work happens afterwards.
func TestEverySlackRequestIsAnsweredWithinThreeSecondsUnderASlowGitHub(t *testing.T) {
	w := newWorld(t)
	w.linkAll()
	w.command("U0ALICE", "production")
	msg := w.approvalMessage()
	approve := buttonValueIn(t, msg.Blocks, tgslack.ActionApprove)
	reject := buttonValueIn(t, msg.Blocks, tgslack.ActionReject)

	w.gh.Delay("/**", 5*time.Second)
	requests := []struct {
		name string
		send func() answer
	}{
		{"deploy command", func() answer { return w.command("U0CAROL", "staging main") }},
		{"approve click", func() answer {
			return w.sendClick(w.clickParams("U0BOB", tgslack.ActionApprove, msg.TS, approve))
		}},
		{"reject click opening the modal", func() answer {
			return w.sendClick(w.clickParams("U0DAVE", tgslack.ActionReject, msg.TS, reject))
		}},
		{"reject reason submission", func() answer {
			views := w.sl.Views()
			if len(views) == 0 {
				t.Fatal("no modal was opened")
			}
			began := time.Now()
			resp, err := slacktest.ViewSubmission(context.Background(), w.srv.URL+tgslack.PathInteractions, signingSecret,
				slacktest.ViewSubmissionParams{UserID: "U0DAVE", UserName: "dave", View: views[0].View,
					Values: map[string]map[string]string{"reason": {"reason_text": "not today"}}})
			return read(t, resp, err, began)
		}},
		{"lock command", func() answer { return w.command("U0CAROL", "lock staging testing the new checkout") }},
		{"status command", func() answer { return w.command("U0ALICE", "status") }},
		{"help command", func() answer { return w.command("U0ALICE", "help") }},
		{"link command", func() answer { return w.command("U0ERIN", "link") }},
		{"typo in the environment", func() answer { return w.command("U0ALICE", "prod") }},
	}
	for _, rq := range requests {
		a := rq.send()
		if a.status != 200 {
			t.Errorf("%s answered %d %s", rq.name, a.status, a.body)
		}
		if a.took >= slackDeadline {
			t.Errorf("%s took %v to answer, Slack gives up at %v", rq.name, a.took, slackDeadline)
		}
		if strings.Contains(a.body, "internal error") {
			t.Errorf("%s answered %s", rq.name, a.body)
		}
	}
	// The slow part still happens, after the answers: once GitHub is fast
	// again, bob's approval (persisted while it was slow) lands.
	w.gh.ClearFaults()
	w.eventually("bob's approval despite the slow GitHub", func() bool { return len(w.onlyRequest().Approvals) == 1 })
}
