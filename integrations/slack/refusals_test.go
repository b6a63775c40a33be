package slack_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	tgslack "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// TestRefusedClicksHaveNoSideEffect: each click is refused; the request
// keeps awaiting approval with no approval, its message is not edited,
// nothing deploys, and the clicker is told why (or Slack gets 401 when the
// request itself is not trusted).
func TestRefusedClicksHaveNoSideEffect(t *testing.T) {
	tests := []struct {
		name       string
		user       string
		prepare    func(w *world)
		opts       []slacktest.SendOption
		wantStatus int
		wantTold   string          // "" for refused requests nobody is told about
		wantCode   bot.RefusalCode // audited refusal code
		auditedAs  string
	}{
		{name: "bad signature", user: "U0BOB", wantStatus: http.StatusUnauthorized,
			opts: []slacktest.SendOption{slacktest.WithHeaders(func(h http.Header) {
				h.Set(slacktest.HeaderSignature, "v0="+strings.Repeat("ab", 32))
			})}},
		{name: "body changed after signing", user: "U0BOB", wantStatus: http.StatusUnauthorized,
			opts: []slacktest.SendOption{slacktest.WithTamper(func(b []byte) []byte {
				return []byte(strings.Replace(string(b), "U0BOB", "U0DAVE", 1))
			})}},
		{name: "timestamp six minutes old", user: "U0BOB", wantStatus: http.StatusUnauthorized,
			opts: []slacktest.SendOption{slacktest.WithTimestamp(time.Now().Add(-6 * time.Minute))}},
		{name: "timestamp six minutes ahead", user: "U0BOB", wantStatus: http.StatusUnauthorized,
			opts: []slacktest.SendOption{slacktest.WithTimestamp(time.Now().Add(6 * time.Minute))}},
		{name: "click on an expired request", user: "U0BOB", wantStatus: 200,
			prepare:  func(w *world) { w.clock.Add(31 * time.Minute) },
			wantTold: "expired at", wantCode: bot.CodeApprovalExpired, auditedAs: bot.ActionApprovalRefused},
		{name: "click after a new commit to the ref", user: "U0BOB", wantStatus: 200,
			prepare:  func(w *world) { w.gh.AddCommit(repo, "main", sha("hotfix")) },
			wantTold: "main moved from " + mergeSHA[:7] + " to " + sha("hotfix")[:7], wantCode: bot.CodeStaleSHA,
			auditedAs: bot.ActionApprovalRefused},
		{name: "unlinked user", user: "U0ERIN", wantStatus: 200,
			wantTold: "link your GitHub account first", wantCode: bot.CodeNotLinked, auditedAs: bot.ActionActionRefused},
		{name: "removed from the approvers team since the request", user: "U0BOB", wantStatus: 200,
			prepare: func(w *world) {
				w.gh.RemoveTeamMember("acme", "approvers", "bob")
				w.dir.Invalidate("bob") // as the membership webhook does
			},
			wantTold: "only members of acme/approvers may approve", wantCode: bot.CodeNotApprover,
			auditedAs: bot.ActionApprovalRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.linkAll()
			w.command("U0ALICE", "production")
			msg := w.approvalMessage()
			value := buttonValueIn(t, msg.Blocks, tgslack.ActionApprove)
			if tt.prepare != nil {
				tt.prepare(w)
			}
			inboxBefore := w.inboxSize()

			a := w.sendClick(w.clickParams(tt.user, tgslack.ActionApprove, msg.TS, value), tt.opts...)
			if a.status != tt.wantStatus {
				t.Fatalf("click answered %d %s, want %d", a.status, a.body, tt.wantStatus)
			}
			if tt.wantTold != "" {
				if got := w.ephemeral(tt.user, 1); !strings.Contains(got, tt.wantTold) {
					t.Errorf("clicker was told %q, want %q", got, tt.wantTold)
				}
				if n := w.auditCount(tt.auditedAs, string(tt.wantCode)); n != 1 {
					t.Errorf("%d %s entries with code %s, want 1", n, tt.auditedAs, tt.wantCode)
				}
			} else {
				if n := w.inboxSize(); n != inboxBefore {
					t.Errorf("a refused request was stored: inbox %d → %d", inboxBefore, n)
				}
				if es := w.sl.Ephemerals(tt.user); len(es) != 0 {
					t.Errorf("a refused request produced a reply: %q", es[0].Text)
				}
			}
			r := w.onlyRequest()
			if r.State != bot.StateAwaitingApproval || len(r.Approvals) != 0 {
				t.Errorf("request is %s with %d approvals, want awaiting_approval with none", r.State, len(r.Approvals))
			}
			if n := len(w.sl.CallsTo("chat.update")); n != 0 {
				t.Errorf("message edited %d times", n)
			}
			if n := w.auditCount(bot.ActionApprovalGranted, ""); n != 0 {
				t.Errorf("%d approvals granted", n)
			}
			if w.deployer.count() != 0 {
				t.Errorf("something deployed")
			}
		})
	}
}

// TestRefusedCommandsCreateNothing: commands that cannot be carried out are
// answered at once and nothing is stored, requested or posted.
func TestRefusedCommandsCreateNothing(t *testing.T) {
	tests := []struct {
		name       string
		user, text string
		opts       []slacktest.SendOption
		wantStatus int
		wantBody   string
		wantCode   bot.RefusalCode
	}{
		{name: "environment that does not exist", user: "U0ALICE", text: "prodution", wantStatus: 200,
			wantBody: `acme/shop has no environment \"prodution\"; it has: production, staging`, wantCode: bot.CodeUnknownEnv},
		{name: "repository that is not configured", user: "U0ALICE", text: "acme/other production", wantStatus: 200,
			wantBody: "Tollgate does not deploy acme/other; it deploys: acme/shop", wantCode: tgslack.CodeUnknownRepo},
		{name: "unlinked user", user: "U0ERIN", text: "production", wantStatus: 200,
			wantBody: "link your GitHub account first", wantCode: bot.CodeNotLinked},
		{name: "command that does not parse", user: "U0ALICE", text: "lock production", wantStatus: 200,
			wantBody: "usage: /deploy lock"},
		{name: "bad signature", user: "U0ALICE", text: "production", wantStatus: http.StatusUnauthorized,
			opts: []slacktest.SendOption{slacktest.WithHeaders(func(h http.Header) { h.Del(slacktest.HeaderSignature) })}},
		{name: "timestamp six minutes old", user: "U0ALICE", text: "production", wantStatus: http.StatusUnauthorized,
			opts: []slacktest.SendOption{slacktest.WithTimestamp(time.Now().Add(-6 * time.Minute))}},
		{name: "body over the limit", user: "U0ALICE", text: "production " + strings.Repeat("x", 2<<20),
			wantStatus: http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			w.linkAll()
			a := w.command(tt.user, tt.text, tt.opts...)
			if a.status != tt.wantStatus || !strings.Contains(a.body, tt.wantBody) {
				t.Fatalf("answered %d %s, want %d containing %q", a.status, a.body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantCode != "" {
				if n := w.auditCount(bot.ActionActionRefused, string(tt.wantCode)); n != 1 {
					t.Errorf("%d refusals audited with %s, want 1", n, tt.wantCode)
				}
			}
			if n := w.inboxSize(); n != 0 {
				t.Errorf("%d items stored in the inbox", n)
			}
			rs, err := w.svc.History(context.Background(), repo, "", 10)
			if err != nil || len(rs) != 0 {
				t.Errorf("requests created: %d (%v)", len(rs), err)
			}
			if calls := w.sl.Calls(); len(calls) != 0 {
				t.Errorf("Slack was called: %s", calls[0].Method)
			}
		})
	}
}

// TestRetriedCommandCreatesOneRequest: Slack's retry of the same request
// (same body, X-Slack-Retry-Num) is one delivery and one request.
func TestRetriedCommandCreatesOneRequest(t *testing.T) {
	w := newWorld(t)
	w.linkAll()
	body := slacktest.SlashCommandBody(slacktest.SlashCommandParams{UserID: "U0ALICE", UserName: "alice",
		ChannelID: channel, Text: "production",
		ResponseURL: w.sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: channel, User: "U0ALICE"})})
	signer := slacktest.Signer{Secret: signingSecret}
	for i, opts := range [][]slacktest.SendOption{nil, {slacktest.WithRetry(1, "http_timeout")}, {slacktest.WithRetry(2, "http_timeout")}} {
		resp, err := signer.Post(context.Background(), w.srv.URL+tgslack.PathCommands, formType, body, opts...)
		if a := read(t, resp, err, time.Now()); a.status != 200 {
			t.Fatalf("attempt %d answered %d", i, a.status)
		}
	}
	w.approvalMessage()
	if n := w.inboxSize(); n != 1 {
		t.Errorf("inbox holds %d items, want 1", n)
	}
	w.onlyRequest()
	if n := w.auditCount(bot.ActionRequestCreated, ""); n != 1 {
		t.Errorf("%d requests created, want 1", n)
	}
}

// TestUnknownRefCreatesNothing: a ref that does not exist is refused after
// GitHub was asked; the requester is told, nothing is requested or posted.
func TestUnknownRefCreatesNothing(t *testing.T) {
	w := newWorld(t)
	w.linkAll()
	if a := w.command("U0ALICE", "production no-such-branch"); a.status != 200 {
		t.Fatalf("answered %d", a.status)
	}
	if got := w.ephemeral("U0ALICE", 1); !strings.Contains(got, `acme/shop has no branch, tag or commit "no-such-branch"`) {
		t.Errorf("alice was told %q", got)
	}
	if rs, _ := w.svc.History(context.Background(), repo, "", 10); len(rs) != 0 {
		t.Errorf("%d requests created", len(rs))
	}
	if ms := w.sl.Messages(channel); len(ms) != 0 {
		t.Errorf("posted in the channel: %s", ms[0].Text)
	}
	if n := w.auditCount(bot.ActionActionRefused, string(bot.CodeUnknownRef)); n != 1 {
		t.Errorf("%d refusals audited, want 1", n)
	}
}

// TestLockIsARefusalNamingItsHolder: a lock shows up as a refusal naming
// who holds it, since when and why; unlocking lets the deploy through.
func TestLockIsARefusalNamingItsHolder(t *testing.T) {
	w := newWorld(t)
	w.linkAll()
	w.command("U0CAROL", "lock production database migration running")
	if got := w.ephemeral("U0CAROL", 1); !strings.Contains(got, "is locked by you since 2025-03-04 10:00 UTC") {
		t.Fatalf("carol was told %q", got)
	}
	w.command("U0ALICE", "production")
	want := "production is locked by carol since 2025-03-04T10:00:00Z: database migration running"
	if got := w.ephemeral("U0ALICE", 1); !strings.Contains(got, want) {
		t.Errorf("alice was told %q, want %q", got, want)
	}
	if a := w.command("U0ALICE", "status production"); !strings.Contains(a.body, "locked by carol since 2025-03-04 10:00 UTC: database migration running") {
		t.Errorf("status answered %s", a.body)
	}
	if ms := w.sl.Messages(channel); len(ms) != 0 {
		t.Errorf("a refused deploy was posted for approval: %s", ms[0].Text)
	}
}
