package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// TestServeSigningOffAnOldAccessReviewLeavesItDue (issue 15, access
// review suspicion): carol, an access reviewer, takes a snapshot of who
// can deploy with /deploy access-review, lets it sit for 100 days and then
// signs it off with the button in her DM, a signed Slack click through
// the real server. Tollgate's next access check still finds a review due
// (interval 90 days, counted from the snapshot) and reminds the reviewers,
// naming the snapshot's date. Fails before this change: the sign-off reset
// the clock and no reminder came.
func TestServeSigningOffAnOldAccessReviewLeavesItDue(t *testing.T) {
	w := newSlackE2E(t)
	writeTestFile(t, w.configPath, readTestFile(t, w.configPath)+"teams:\n  access_reviewers: [security]\n")
	w.gh.SetTeamMember("acme", "security", "carol", "")
	clock := &offsetClock{}
	w.startWithClock(t, clock.Now)
	w.link(t, slackCarol)
	w.waitAudit(t, bot.ActionAccessReviewReminded, 1) // none was ever signed off

	w.slash(t, slackCarol, "access-review")
	dm := slacktest.DMChannel(slackCarol.slackID)
	var msg slacktest.Message
	waitFor(t, "the sign-off message in carol's DM", func() bool {
		for _, m := range w.sl.Messages(dm) {
			if _, _, ok := slacktest.Button(m.Blocks, slackint.ActionAccessNoChanges); ok {
				msg = m
				return true
			}
		}
		return false
	})

	clock.Advance(100 * 24 * time.Hour)
	blockID, value, _ := slacktest.Button(msg.Blocks, slackint.ActionAccessNoChanges)
	resp, err := slacktest.BlockAction(context.Background(), w.url("/slack/interactions"), slackE2ESecret, slacktest.BlockActionParams{
		TeamID: w.sl.TeamID(), UserID: slackCarol.slackID, UserName: slackCarol.login, ChannelID: dm, MessageTS: msg.TS,
		Message: w.sl.MessagePayload(dm, msg.TS), ActionID: slackint.ActionAccessNoChanges, BlockID: blockID, Value: value,
		ButtonText:  "Reviewed, no changes",
		ResponseURL: w.sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: dm, User: slackCarol.slackID, MessageTS: msg.TS}),
	}, slacktest.WithTimestamp(clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("carol's sign-off answered %d", resp.StatusCode)
	}
	signed := w.waitAudit(t, bot.ActionAccessReviewSignedOff, 1)
	if signed[0]["reviewer"] != "carol" || signed[0]["outcome"] != string(bot.AccessNoChanges) {
		t.Fatalf("sign-off recorded as %v", signed[0])
	}

	// The access checks run at every start (and daily).
	if code := w.stop(t); code != exitOK {
		t.Fatalf("serve exit %d\n%s", code, w.stderr)
	}
	w.startWithClock(t, clock.Now)
	reminders := w.waitAudit(t, bot.ActionAccessReviewReminded, 2)
	if last := reminders[len(reminders)-1]; last["last_review"] != value {
		t.Errorf("the reminder after the sign-off names review %v, want %s", last["last_review"], value)
	}
	waitFor(t, "the reminder to carol naming the snapshot's age", func() bool {
		for _, m := range w.sl.Messages(dm) {
			if strings.Contains(m.Text, "The last signed access review ("+value+") is of a snapshot taken") {
				return true
			}
		}
		return false
	})
	if code := w.stop(t); code != exitOK {
		t.Fatalf("serve exit %d\n%s", code, w.stderr)
	}
}
