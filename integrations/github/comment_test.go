package github

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden from the current output")

// goldenTime is the fixed instant golden requests are built around.
var goldenTime = time.Date(2026, 3, 2, 14, 30, 0, 0, time.UTC)

func goldenRequest() bot.Request {
	return bot.Request{
		ID: "r-7f3k2q", Repo: "acme/web", Environment: "production", Ref: "main", SHA: outSHA("merge"),
		Trigger:   bot.TriggerMerge,
		Requester: bot.Identity{Login: "erin", GitHubID: 5},
		PR:        &bot.PullRequest{Number: 12, Author: bot.Identity{Login: "alice", GitHubID: 2}, Title: "Add cache"},
		State:     bot.StateSucceeded, StateReason: "succeeded", ConfigHash: "cfg1",
		RequiredApprovals: 2,
		Approvals: []bot.Approval{
			{Approver: bot.Identity{Login: "bob", GitHubID: 3}, At: goldenTime.Add(-20 * time.Minute), SHA: outSHA("merge"), ConfigHash: "cfg1", ExpiresAt: goldenTime.Add(time.Hour)},
			{Approver: bot.Identity{Login: "carol", GitHubID: 4}, At: goldenTime.Add(-10 * time.Minute), SHA: outSHA("merge"), ConfigHash: "cfg1", ExpiresAt: goldenTime.Add(time.Hour)},
		},
		Result: &bot.DeployOutcome{Result: bot.ResultSucceeded, Release: "20260302T142900Z-" + outSHA("merge")[:7],
			FilesSent: 17, BytesSent: 48213, Servers: []string{"web1.internal", "web2.internal"}, Duration: 42*time.Second + 300*time.Millisecond},
		CreatedAt: goldenTime.Add(-30 * time.Minute), QueuedAt: goldenTime.Add(-10 * time.Minute),
		StartedAt: goldenTime.Add(-time.Minute), FinishedAt: goldenTime,
	}
}

var goldenAudit = &AuditEntry{Seq: 42, LeafHash: "9c1185a5c5e9fc54612808977ee8f548b2258d31bdf3ecb0a8d5d6f0e4a7b3c1", CheckpointSize: 48, RootPrefix: "1a2b3c4d"}

func TestCommentGolden(t *testing.T) {
	tests := []struct {
		name   string
		req    func() bot.Request
		audit  *AuditEntry
		review *bot.EmergencyReview
	}{
		{"succeeded", goldenRequest, goldenAudit, nil},
		{"rolled_back", func() bot.Request {
			r := goldenRequest()
			r.State, r.StateReason = bot.StateRolledBack, "previous release restored after: health check failed"
			r.Result.Result, r.Result.Error = bot.ResultRolledBack, "health check https://web1.internal/healthz: 503 after 3 tries"
			return r
		}, &AuditEntry{Seq: 57, LeafHash: goldenAudit.LeafHash, CheckpointSize: 0}, nil},
		{"refused", func() bot.Request {
			r := goldenRequest()
			r.Trigger, r.Environment, r.Ref, r.SHA = bot.TriggerLabel, "staging", "feature-12", outSHA("feat")
			r.Requester = bot.Identity{Login: "mallory", GitHubID: 9}
			r.State, r.StateReason, r.Result, r.Approvals, r.RequiredApprovals = bot.StateRejected, "policy denied", nil, nil, 0
			r.QueuedAt, r.StartedAt, r.FinishedAt = time.Time{}, time.Time{}, time.Time{}
			r.Decision = &bot.Decision{Allowed: false, Code: bot.CodeNotDeployer,
				Reason: "mallory is not an active member of acme/deployers | <script>"}
			return r
		}, &AuditEntry{Seq: 7, LeafHash: goldenAudit.LeafHash, CheckpointSize: 8, RootPrefix: "00ff00ff"}, nil},
		{"awaiting_approval", func() bot.Request {
			r := goldenRequest()
			r.Trigger, r.Requester = bot.TriggerSlack, bot.Identity{Login: "dave", GitHubID: 6}
			r.State, r.Result = bot.StateAwaitingApproval, nil
			r.Approvals = r.Approvals[:1]
			r.QueuedAt, r.StartedAt, r.FinishedAt = time.Time{}, time.Time{}, time.Time{}
			r.ApprovalDeadline = goldenTime.Add(50 * time.Minute)
			return r
		}, nil, nil},
		{"emergency_review_pending", emergencyRequest, goldenAudit, emergencyReview(nil)},
		{"emergency_reviewed", emergencyRequest, goldenAudit, emergencyReview(func(rev *bot.EmergencyReview) {
			rev.Outcome, rev.Reviewer, rev.ReviewedAt = bot.ReviewNotAcceptable, bot.Identity{Login: "carol", GitHubID: 4}, rev.DueAt.Add(time.Hour)
			rev.Note = "should have waited for the fix | <b>"
		})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := renderComment(tt.req(), "https://tollgate.example.test/deployments/r-7f3k2q", tt.audit, tt.review)
			path := filepath.Join("testdata", "golden", tt.name+".md")
			if *updateGolden {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("reading golden file (run go test -update to create it): %v", err)
			}
			if got != string(want) {
				t.Errorf("comment differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

// emergencyRequest is the golden request shipped through the emergency path.
func emergencyRequest() bot.Request {
	r := goldenRequest()
	r.Trigger, r.Approvals = bot.TriggerEmergency, nil
	r.Reason, r.Ticket = "checkout times out under load", "INC-42"
	return r
}

// emergencyReview is the review of emergencyRequest, changed by edit.
func emergencyReview(edit func(*bot.EmergencyReview)) *bot.EmergencyReview {
	rev := &bot.EmergencyReview{RequestID: "r-7f3k2q", Repo: "acme/web", Environment: "production", DeployedAt: goldenTime,
		DueAt: goldenTime.Add(24 * time.Hour), Approvers: []bot.Team{{Org: "acme", Slug: "backend-leads"}}}
	if edit != nil {
		edit(rev)
	}
	return rev
}

// An emergency change's comment says approvals were skipped by policy, not
// "0 of 1 required", and shows its review in its own section.
func TestCommentShowsAnEmergencyAsWhatItIs(t *testing.T) {
	for _, tt := range []struct {
		name   string
		review *bot.EmergencyReview
		want   []string
	}{
		{"pending", emergencyReview(nil), []string{"| Review | ⏳ pending: due by 2026-03-03 14:30:00 UTC, from an approver of acme/backend-leads |"}},
		{"overdue", emergencyReview(func(r *bot.EmergencyReview) { r.OverdueAt = goldenTime.Add(25 * time.Hour) }),
			[]string{"| Review | ⚠️ **overdue**: was due by 2026-03-03 14:30:00 UTC"}},
		{"acceptable", emergencyReview(func(r *bot.EmergencyReview) {
			r.Outcome, r.Reviewer, r.ReviewedAt = bot.ReviewAcceptable, bot.Identity{Login: "bob"}, goldenTime.Add(time.Hour)
		}), []string{"| Review | ✅ **acceptable** by @bob at 2026-03-02 15:30:00 UTC |"}},
		{"not opened yet", nil, []string{"| Review | ⏳ being opened |"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := renderComment(emergencyRequest(), "", goldenAudit, tt.review)
			want := append([]string{"| Approved by | emergency: approvals skipped by policy", "#### 🚨 Emergency change",
				"| Reason | checkout times out under load |", "| Ticket | INC-42 |"}, tt.want...)
			for _, w := range want {
				if !strings.Contains(body, w) {
					t.Errorf("comment lacks %q:\n%s", w, body)
				}
			}
			if strings.Contains(body, "of 1 required") || strings.Contains(body, "0 of") {
				t.Errorf("comment counts approvals of an emergency change:\n%s", body)
			}
		})
	}
}

// No secret-looking value and no raw HTML reaches a comment from free text.
func TestCommentNeutralisesFreeText(t *testing.T) {
	r := goldenRequest()
	r.State, r.Result = bot.StateRejected, nil
	r.Decision = &bot.Decision{Code: bot.CodeChecksFailed, Reason: "checks failed <img src=x> @acme/security\nsecond line | cell"}
	body := renderComment(r, "", nil, nil)
	for _, bad := range []string{"<img", "@acme/security", "second line | cell"} {
		if strings.Contains(body, bad) {
			t.Errorf("comment contains %q:\n%s", bad, body)
		}
	}
	if !regexp.MustCompile(`(?m)^\*\*What you can do:\*\* make the failing checks pass`).MatchString(body) {
		t.Errorf("comment lacks the actionable hint:\n%s", body)
	}
}

func TestCommentsReactAndReply(t *testing.T) {
	w := newOutWorld(t)
	n := w.gh.AddPullRequest("acme/web", githubtest.PullRequest{Author: "alice", HeadSHA: outSHA("feat")})
	cmd := w.gh.AddIssueComment("acme/web", n, "bob", "/deploy staging")
	c := NewComments(w.app)
	for range 2 {
		if err := c.ReactEyes(outCtx(t), "acme/web", cmd); err != nil {
			t.Fatalf("ReactEyes: %v", err)
		}
	}
	if rs := w.gh.Reactions("acme/web", cmd); len(rs) != 1 || rs[0].Content != "eyes" || !strings.HasSuffix(rs[0].User, "[bot]") {
		t.Errorf("reactions = %+v, want one 👀 by the app", rs)
	}
	if err := c.ReplyToComment(outCtx(t), "acme/web", n, "staging is not configured for acme/web"); err != nil {
		t.Fatal(err)
	}
	cs := w.gh.IssueComments("acme/web", n)
	if len(cs) != 2 || cs[1].Body != "staging is not configured for acme/web" {
		t.Errorf("comments = %+v", cs)
	}
}
