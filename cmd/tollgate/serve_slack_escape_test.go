package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// slackControls are what a branch name, a PR title, a reason or a ticket
// can carry to make Slack ping the channel, mention someone or show a
// disguised link, if Tollgate passed them on unescaped.
var slackControls = []string{"<!channel>", "<@U123>", "<https://evil|click>"}

// slackStrings is every string Slack was sent in call: each parameter
// and JSON body, with the JSON inside them (blocks, attachments, views)
// decoded, so \u003c-escaped brackets are seen as Slack reads them.
func slackStrings(t *testing.T, c slacktest.Call) []string {
	t.Helper()
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
			var inner any
			if t := strings.TrimSpace(x); (strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{")) && json.Unmarshal([]byte(t), &inner) == nil {
				walk(inner)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	for _, vs := range c.Params {
		for _, v := range vs {
			walk(v)
		}
	}
	if len(c.JSON) > 0 {
		var v any
		if err := json.Unmarshal(c.JSON, &v); err != nil {
			t.Fatalf("%s body is not JSON: %v", c.Method, err)
		}
		walk(v)
	}
	return out
}

// TestServeSlackEscapesUserText (issue 15 item 6): a branch named
// <!channel>, a PR title, a deploy reason and a lock reason carrying
// <!channel>, <@U123> and <https://evil|click> go through every kind of
// Slack message the real server sends: the command's immediate answer,
// its reply through response_url, the approval message (fallback text and
// blocks) and its edits, the thread, a refusal, /deploy status and
// history, a lock. Slack is sent none of them as a control sequence, and
// the approval message shows each as the literal text. Fails before this
// change: the approval message's fallback text, the replies and the status
// lines carried the ref and reasons unescaped.
func TestServeSlackEscapesUserText(t *testing.T) {
	w := newSlackE2E(t)
	pings := strings.Join(slackControls, " ")
	head, merge := fakeSHA("pings head"), fakeSHA("pings merge")
	w.gh.AddPullRequest(e2eRepo, githubtest.PullRequest{Number: 40, Title: "Fix " + pings, Author: "bob", HeadSHA: head, Base: "main"})
	w.gh.AddReview(e2eRepo, 40, githubtest.Review{User: "dave", State: "APPROVED"})
	w.gh.MergePullRequest(e2eRepo, 40, merge, "alice")
	w.gh.AddCommit(e2eRepo, "<!channel>", merge) // a valid git branch name
	w.gh.SetStatus(e2eRepo, merge, "build", "success")
	w.deployable(t, merge)
	w.start(t)
	for _, p := range []slackE2EPerson{slackAlice, slackCarol} {
		w.link(t, p)
	}

	var answers []string // what the command endpoint answered at once
	answers = append(answers, w.slash(t, slackAlice, "production <!channel> <@U123> <https://evil|click>"))
	msg := w.approvalMessage(t)
	w.click(t, slackCarol, msg.TS, slackint.ActionApprove, "Approve")
	waitFor(t, "the deploy's result in the thread", func() bool {
		th := w.threadTexts(msg.TS)
		return len(th) > 0 && strings.Contains(th[len(th)-1], ":white_check_mark: Deployed")
	})
	answers = append(answers,
		w.slash(t, slackAlice, "<@U123>"),                         // unknown environment, refused at once
		w.slash(t, slackAlice, "production <https://evil|click>"), // unknown ref, refused by bot
		w.slash(t, slackAlice, "lock production "+pings),          // a lock reason
		w.slash(t, slackAlice, "status"),                          // live ref, lock reason
		w.slash(t, slackAlice, "history production"),              // the ref again
		w.slash(t, slackAlice, "unlock production"))
	waitFor(t, "the replies of the queued commands", func() bool {
		return len(w.sl.Ephemerals(slackAlice.slackID)) >= 4 // deploy, unknown ref, lock, unlock
	})

	// The approval message shows what was written, as text.
	final, _ := w.sl.Message(slackE2EChannel, msg.TS)
	shown := blockStrings(t, final.Blocks)
	for _, want := range []string{"`&lt;!channel&gt;`", "#40 Fix &lt;!channel&gt; &lt;@U123&gt; &lt;https://evil|click&gt;",
		"&lt;@U123&gt; &lt;https://evil|click&gt;"} {
		if !strings.Contains(shown, want) {
			t.Errorf("the approval message lacks %q:\n%s", want, shown)
		}
	}
	if !strings.Contains(msg.Text, "(&lt;!channel&gt;)") {
		t.Errorf("the approval message's fallback text %q does not show the ref escaped", msg.Text)
	}

	calls := w.sl.Calls()
	sent := 0
	for _, c := range calls {
		for _, s := range slackStrings(t, c) {
			for _, bad := range slackControls {
				if strings.Contains(s, bad) {
					t.Errorf("%s sent %q to Slack in %q", c.Method, bad, s)
				}
			}
		}
		if c.Method == "chat.postMessage" || c.Method == "chat.update" || c.Method == slacktest.MethodResponseURL {
			sent++
		}
	}
	if sent < 8 {
		t.Errorf("only %d messages reached Slack; the test did not exercise the message kinds", sent)
	}
	for _, a := range answers {
		for _, bad := range slackControls {
			if strings.Contains(a, bad) {
				t.Errorf("the command endpoint answered %q unescaped: %q", bad, a)
			}
		}
	}
	if code := w.stop(t); code != exitOK {
		t.Fatalf("serve exit %d\n%s", code, w.stderr)
	}
}
