package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	tgslack "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var reviewTime = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`)

const formType = "application/x-www-form-urlencoded"

// buttonValueIn returns the value of the button with actionID in blocks, as
// an approver's Slack would send it back.
func buttonValueIn(t *testing.T, blocks json.RawMessage, actionID string) string {
	t.Helper()
	var bs []struct {
		Type     string `json:"type"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(blocks, &bs); err != nil {
		t.Fatalf("decoding blocks: %v", err)
	}
	for _, b := range bs {
		for _, e := range b.Elements {
			if e.ActionID == actionID {
				return e.Value
			}
		}
	}
	return ""
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run with -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", name, got)
	}
}

// normalized makes blocks comparable across runs: the request id and
// nonce are random.
func normalized(t *testing.T, blocks json.RawMessage, r bot.Request) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, blocks, "", "  "); err != nil {
		t.Fatal(err)
	}
	s := strings.NewReplacer(r.ID, "r-REQID", r.ApprovalNonce, "NONCE").Replace(out.String())
	// The fake GitHub stamps reviews with the real time.
	s = reviewTime.ReplaceAllString(s, "REVIEW-TIME")
	return []byte(s + "\n")
}

func TestApprovalFlowThroughSlack(t *testing.T) {
	w := newWorld(t)
	w.linkAll()

	a := w.command("U0ALICE", "production main new checkout")
	if a.status != 200 || !strings.Contains(a.body, "Working on") {
		t.Fatalf("/deploy production answered %d %s", a.status, a.body)
	}
	if got := w.ephemeral("U0ALICE", 1); !strings.Contains(got, "awaits 1 approval(s) until 2025-03-04 10:30 UTC") {
		t.Errorf("alice was told %q", got)
	}
	msg := w.approvalMessage()
	r := w.onlyRequest()
	if r.State != bot.StateAwaitingApproval || r.SHA != mergeSHA || r.Requester.Login != "alice" {
		t.Fatalf("request is %s for %s by %s, want awaiting_approval for %s by alice", r.State, r.SHA, r.Requester.Login, mergeSHA)
	}
	if got := r.ExternalRefs[tgslack.RefSlackTS]; got != channel+":"+msg.TS {
		t.Errorf("slack_ts ref = %q, want %q", got, channel+":"+msg.TS)
	}
	golden(t, "approval_message.json", normalized(t, msg.Blocks, r))
	value := buttonValueIn(t, msg.Blocks, tgslack.ActionApprove)
	if value != r.ID+":"+r.ApprovalNonce {
		t.Fatalf("approve button carries %q, want the request id and its nonce", value)
	}

	refusals := []struct {
		name, user, want string
		code             bot.RefusalCode
	}{
		{"requester's own click", "U0ALICE", "you requested this deploy; someone else must approve it", bot.CodeSelfApproval},
		{"PR author's click", "U0CAROL", "you wrote PR #1; someone else must approve its deploy", bot.CodeAuthorApproval},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			before := len(w.sl.Ephemerals(tt.user))
			a := w.sendClick(w.clickParams(tt.user, tgslack.ActionApprove, msg.TS, value))
			if a.status != 200 {
				t.Fatalf("click answered %d", a.status)
			}
			if got := w.ephemeral(tt.user, before+1); !strings.Contains(got, tt.want) {
				t.Errorf("%s was told %q, want %q", people[tt.user], got, tt.want)
			}
			if n := w.auditCount(bot.ActionApprovalRefused, string(tt.code)); n != 1 {
				t.Errorf("%d approval.refused entries with %s, want 1", n, tt.code)
			}
		})
	}
	if r := w.onlyRequest(); len(r.Approvals) != 0 || r.State != bot.StateAwaitingApproval {
		t.Fatalf("after refused clicks the request is %s with %d approvals", r.State, len(r.Approvals))
	}

	// bob approves: the exact body is kept to replay it later.
	body, err := slacktest.BlockActionBody(w.clickParams("U0BOB", tgslack.ActionApprove, msg.TS, value))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := slacktest.Signer{Secret: signingSecret}.Post(context.Background(), w.srv.URL+tgslack.PathInteractions, formType, body)
	if a := read(t, resp, err, time.Now()); a.status != 200 {
		t.Fatalf("bob's click answered %d", a.status)
	}
	w.eventually("the deploy to finish", func() bool {
		r, err := w.svc.Request(context.Background(), r.ID)
		return err == nil && r.State == bot.StateSucceeded
	})
	var thread []string
	w.eventually("the result in the thread", func() bool {
		thread = nil
		for _, m := range w.sl.Thread(channel, msg.TS) {
			thread = append(thread, m.Text)
		}
		return len(thread) > 0 && strings.Contains(thread[len(thread)-1], "Deployed")
	})
	all := strings.Join(thread, "\n")
	for _, want := range []string{"Queued: approved by bob", "Running: deploying `" + mergeSHA[:7] + "` to production",
		"Deployed `" + mergeSHA[:7] + "` to production (web1) in 42s", publicURL + "/deployments/" + r.ID} {
		if !strings.Contains(all, want) {
			t.Errorf("thread lacks %q:\n%s", want, all)
		}
	}
	updated, _ := w.sl.Message(channel, msg.TS)
	if len(updated.History) < 2 {
		t.Errorf("message was never updated in place (%d versions)", len(updated.History))
	}
	if v := buttonValueIn(t, updated.Blocks, tgslack.ActionApprove); v != "" {
		t.Errorf("buttons still shown after approval: %s", updated.Blocks)
	}
	if !strings.Contains(string(updated.Blocks), "1 of 1: \\u003c@U0BOB\\u003e (bob)") && !strings.Contains(string(updated.Blocks), "1 of 1: <@U0BOB> (bob)") {
		t.Errorf("updated message does not show bob's approval: %s", updated.Blocks)
	}
	if w.deployer.count() != 1 {
		t.Fatalf("deployer ran %d times, want 1", w.deployer.count())
	}

	// A replay of the accepted click, re-signed with a fresh timestamp:
	// same body, so the same delivery, and nothing happens.
	updates := len(w.sl.CallsTo("chat.update"))
	inboxBefore := w.inboxSize()
	resp, err = slacktest.Signer{Secret: signingSecret}.Post(context.Background(), w.srv.URL+tgslack.PathInteractions, formType, body)
	if a := read(t, resp, err, time.Now()); a.status != 200 {
		t.Fatalf("replayed click answered %d", a.status)
	}
	if n := w.inboxSize(); n != inboxBefore {
		t.Errorf("replayed click was stored again: inbox %d → %d", inboxBefore, n)
	}
	// And a genuine second click (new trigger) is refused by bot's state check.
	w.sendClick(w.clickParams("U0DAVE", tgslack.ActionApprove, msg.TS, value))
	if got := w.ephemeral("U0DAVE", 1); !strings.Contains(got, "not awaiting approval") {
		t.Errorf("late click told %q", got)
	}
	if n := w.auditCount(bot.ActionApprovalGranted, `"approver":"bob"`); n != 1 {
		t.Errorf("%d approval.granted entries for bob, want 1", n)
	}
	if got := len(w.sl.CallsTo("chat.update")); got != updates {
		t.Errorf("message updated %d more times after the replay", got-updates)
	}
	if w.deployer.count() != 1 {
		t.Errorf("deployer ran %d times after the replay, want 1", w.deployer.count())
	}
}

func TestRejectAsksForAReason(t *testing.T) {
	w := newWorld(t)
	w.linkAll()
	w.command("U0ALICE", "production")
	msg := w.approvalMessage()
	value := buttonValueIn(t, msg.Blocks, tgslack.ActionReject)

	if a := w.sendClick(w.clickParams("U0BOB", tgslack.ActionReject, msg.TS, value)); a.status != 200 {
		t.Fatalf("reject click answered %d", a.status)
	}
	views := w.sl.Views()
	if len(views) != 1 {
		t.Fatalf("%d modals opened, want 1", len(views))
	}
	submit := func(reason string) answer {
		p := slacktest.ViewSubmissionParams{UserID: "U0BOB", UserName: "bob", View: views[0].View,
			Values: map[string]map[string]string{"reason": {"reason_text": reason}}}
		began := time.Now()
		resp, err := slacktest.ViewSubmission(context.Background(), w.srv.URL+tgslack.PathInteractions, signingSecret, p)
		return read(t, resp, err, began)
	}
	if a := submit("   "); !strings.Contains(a.body, `"response_action":"errors"`) {
		t.Fatalf("an empty reason was accepted: %d %s", a.status, a.body)
	}
	if r := w.onlyRequest(); r.State != bot.StateAwaitingApproval {
		t.Fatalf("request is %s after an empty reason", r.State)
	}
	if a := submit("breaks the checkout"); a.status != 200 || strings.Contains(a.body, "errors") {
		t.Fatalf("reason submission answered %d %s", a.status, a.body)
	}
	w.eventually("the request to be rejected", func() bool { return w.onlyRequest().State == bot.StateRejected })
	w.eventually("the rejection in the thread", func() bool {
		for _, m := range w.sl.Thread(channel, msg.TS) {
			if strings.Contains(m.Text, "rejected by bob: breaks the checkout") {
				return true
			}
		}
		return false
	})
	updated, _ := w.sl.Message(channel, msg.TS)
	if v := buttonValueIn(t, updated.Blocks, tgslack.ActionReject); v != "" {
		t.Errorf("buttons still shown after rejection")
	}
}
