package slack

import (
	"strings"
	"testing"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
)

func TestThreadTextSaysWhatHappened(t *testing.T) {
	l := links{web: "https://github.com/", public: "https://tollgate.example"}
	base := bot.Request{ID: "r-abc234", Repo: "acme/shop", Environment: "production", SHA: strings.Repeat("a", 40),
		Requester: bot.Identity{Login: "alice", ChatUser: "T1/U0ALICE"},
		Approvals: []bot.Approval{{Approver: bot.Identity{Login: "bob", ChatUser: "T1/U0BOB"}},
			{Approver: bot.Identity{Login: "mallory"}, RevokedAt: time.Unix(1, 0)}}}
	with := func(state bot.State, reason string, out *bot.DeployOutcome) bot.Request {
		r := base
		r.State, r.StateReason, r.Result = state, reason, out
		return r
	}
	// Merges and emergency changes are queued without a reason: the
	// policy allowed them and nobody had to approve.
	queuedBy := func(trigger bot.Trigger, pr *bot.PullRequest, ticket string) bot.Request {
		r := with(bot.StateQueued, "", nil)
		r.Trigger, r.PR, r.Ticket, r.Approvals, r.RequiredApprovals = trigger, pr, ticket, nil, 0
		return r
	}
	tests := []struct {
		name    string
		r       bot.Request
		want    []string
		notWant []string
	}{
		{"queued names the approvers", with(bot.StateQueued, "approved by bob", nil),
			[]string{"Queued: approved by bob."}, []string{"<@"}},
		{"queued merge names the PR and who merged", queuedBy(bot.TriggerMerge, &bot.PullRequest{Number: 12}, ""),
			[]string{":hourglass_flowing_sand: Queued: merge of PR #12 by alice; no approval required for production."},
			[]string{"Queued: .", "Queued: \n", "<@"}},
		{"queued merge without a PR names the branch", func() bot.Request {
			r := queuedBy(bot.TriggerMerge, nil, "")
			r.Ref = "main"
			return r
		}(), []string{"Queued: merge to main by alice; no approval required for production."}, nil},
		{"queued emergency names the ticket and the review to come", queuedBy(bot.TriggerEmergency, nil, "INC-42"),
			[]string{"Queued: emergency change (INC-42) by alice; approvals skipped, review due afterwards."}, nil},
		{"success has duration, servers and the log link", with(bot.StateSucceeded, "succeeded",
			&bot.DeployOutcome{Result: bot.ResultSucceeded, Servers: []string{"web1", "web2"}, Duration: 61500 * time.Millisecond}),
			[]string{"Deployed `aaaaaaa` to production (web1, web2) in 1m2s", "<https://tollgate.example/deployments/r-abc234|Log>"},
			[]string{"<@"}},
		{"failure mentions requester and approvers", with(bot.StateFailed, "health check failed",
			&bot.DeployOutcome{Result: bot.ResultFailed, Error: "health check failed on web1", Duration: 3 * time.Second}),
			[]string{"failed after 3s: health check failed on web1", "cc <@U0ALICE> (alice), <@U0BOB> (bob)"},
			[]string{"mallory"}},
		{"rollback says why", with(bot.StateRolledBack, "previous release restored after: migration <failed>",
			&bot.DeployOutcome{Result: bot.ResultRolledBack, Duration: 9 * time.Second}),
			[]string{"was rolled back: previous release restored after: migration &lt;failed&gt;", "<@U0ALICE>"}, nil},
		{"failed rollback names the release, not a commit it did not deploy", func() bot.Request {
			r := with(bot.StateFailed, "failed", &bot.DeployOutcome{Result: bot.ResultFailed, Release: "20250301-aaaaaaa",
				Error: "refusing to roll back: web2: changed index.html", Duration: 2 * time.Second})
			r.Trigger, r.Release = bot.TriggerRollback, "20250301-aaaaaaa"
			return r
		}(), []string{":x: Rollback of production to release `20250301-aaaaaaa` failed after 2s: refusing to roll back: web2: changed index.html", "<@U0ALICE>"},
			[]string{"Deploy of"}},
		{"running rollback without a named release", func() bot.Request {
			r := with(bot.StateRunning, "", nil)
			r.Trigger = bot.TriggerRollback
			return r
		}(), []string{":rocket: Running: rolling production back to the previous release."}, []string{"aaaaaaa"}},
		{"successful rollback names the release it put live", func() bot.Request {
			r := with(bot.StateSucceeded, "succeeded", &bot.DeployOutcome{Result: bot.ResultSucceeded, Release: "20250228-bbbbbbb",
				Servers: []string{"web1"}, Duration: time.Second})
			r.Trigger = bot.TriggerRollback
			return r
		}(), []string{":white_check_mark: Rolled production back to release `20250228-bbbbbbb` (web1) in 1s."}, []string{"Deployed"}},
		{"rejection gives the reason", with(bot.StateRejected, "rejected by bob: not today", nil),
			[]string{"Rejected: rejected by bob: not today"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := threadText(tt.r, l)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(got, w) {
					t.Errorf("%q contains %q", got, w)
				}
			}
		})
	}
}

func TestVerifySignature(t *testing.T) {
	secret := []byte("8f742231b10e8888abcd99yyyzzz85a5")
	// Slack's documented example request.
	body := []byte("token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
	hdr := func(ts, sig string) map[string][]string {
		return map[string][]string{"X-Slack-Request-Timestamp": {ts}, "X-Slack-Signature": {sig}}
	}
	const good = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
	at := time.Unix(1531420618, 0)
	tests := []struct {
		name string
		h    map[string][]string
		now  time.Time
		ok   bool
	}{
		{"slack's example", hdr("1531420618", good), at, true},
		{"4m59s late", hdr("1531420618", good), at.Add(299 * time.Second), true},
		{"6 minutes late", hdr("1531420618", good), at.Add(6 * time.Minute), false},
		{"6 minutes early", hdr("1531420618", good), at.Add(-6 * time.Minute), false},
		{"other timestamp", hdr("1531420619", good), at, false},
		{"no v0 prefix", hdr("1531420618", strings.TrimPrefix(good, "v0=")), at, false},
		{"not hex", hdr("1531420618", "v0=zz"), at, false},
		{"no timestamp", hdr("", good), at, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			why := verifySignature(secret, tt.h, body, tt.now)
			if (why == "") != tt.ok {
				t.Errorf("verifySignature = %q, want ok %v", why, tt.ok)
			}
		})
	}
}

// TestApproveConfirmationSaysWhatIsApproved: the confirmation behind
// Approve names the commit of a deploy, and the release a rollback goes
// back to: an approver must not be asked to "deploy" what is a rollback.
func TestApproveConfirmationSaysWhatIsApproved(t *testing.T) {
	l := links{web: "https://github.com/", public: "https://tollgate.example"}
	r := bot.Request{ID: "r-abc234", Repo: "acme/shop", Environment: "production", SHA: strings.Repeat("b", 40)}
	confirm := func(r bot.Request) (string, string) {
		t.Helper()
		actions := approvalButtons(r, l).(*slackapi.ActionBlock)
		for _, e := range actions.Elements.ElementSet {
			if b, ok := e.(*slackapi.ButtonBlockElement); ok && b.ActionID == ActionApprove {
				return b.Confirm.Title.Text, b.Confirm.Text.Text
			}
		}
		t.Fatal("no Approve button")
		return "", ""
	}
	if title, text := confirm(r); title != "Deploy to production?" || text != "Approve deploying `bbbbbbb` of acme/shop to *production*?" {
		t.Errorf("deploy confirmation %q: %q", title, text)
	}
	r.Trigger, r.Release = bot.TriggerRollback, "20250228-bbbbbbb"
	if title, text := confirm(r); title != "Roll back production?" ||
		text != "Approve rolling acme/shop *production* back to release `20250228-bbbbbbb` (commit `bbbbbbb`)?" {
		t.Errorf("rollback confirmation %q: %q", title, text)
	}
}
