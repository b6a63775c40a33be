package github_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

// comment posts body on PR 3 as login and delivers the issue_comment event.
func (w *hookWorld) comment(t *testing.T, login, body string) int64 {
	t.Helper()
	id := w.gh.AddIssueComment(hookRepo, 3, login, body)
	p, err := w.gh.Payloads().IssueCommentCreated(hookRepo, id)
	w.deliver(t, p, err)
	return id
}

func (w *hookWorld) reactions(commentID int64) string {
	var out []string
	for _, r := range w.gh.Reactions(hookRepo, commentID) {
		out = append(out, r.User+":"+r.Content)
	}
	return strings.Join(out, ",")
}

// replies returns the bodies of comments on PR 3 not written by people.
func (w *hookWorld) replies() []string {
	var out []string
	for _, c := range w.gh.IssueComments(hookRepo, 3) {
		if strings.HasSuffix(c.User, "[bot]") {
			out = append(out, c.Body)
		}
	}
	return out
}

func newCommentWorld(t *testing.T) *hookWorld {
	t.Helper()
	w := newHookWorld(t)
	w.gh.AddPullRequest(hookRepo, githubtest.PullRequest{Number: 3, Author: "carol", HeadSHA: hookSHA('e')})
	return w
}

func TestCommentDeployCommand(t *testing.T) {
	w := newCommentWorld(t)
	id := w.comment(t, "bob", "/deploy staging")
	if got := w.reactions(id); got != "tollgate[bot]:eyes" {
		t.Fatalf("reactions %q, want 👀 by the app", got)
	}
	r := w.only(t)
	if r.Trigger != "comment" || r.Environment != "staging" || r.SHA != hookSHA('a') || r.Requester != w.identity("bob") ||
		r.SourceKey != "comment:acme/shop:"+itoa(id) {
		t.Fatalf("request %s %s @%s by %+v key %s", r.Trigger, r.Environment, r.SHA, r.Requester, r.SourceKey)
	}
	// The same comment delivered again under a new id is still one request.
	p, err := w.gh.Payloads().IssueCommentCreated(hookRepo, id)
	w.deliver(t, p, err)
	w.only(t)
}

func TestCommentApproveAndReject(t *testing.T) {
	ctx := context.Background()
	w := newCommentWorld(t)
	submit := func(key string) bot.Request {
		out, err := w.svc.Submit(ctx, bot.NewRequest{SourceKey: key, Repo: hookRepo, Environment: "production",
			Ref: "main", Trigger: bot.TriggerSlack, Requester: w.identity("alice")})
		if err != nil || out.Request.State != bot.StateAwaitingApproval {
			t.Fatalf("submit: %s %v", out.Request.State, err)
		}
		return out.Request
	}
	approved, rejected := submit("slack-1"), submit("slack-2")

	steps := []struct {
		name      string
		login     string
		body      string
		request   string
		wantState bot.State
		wantReply string
	}{
		{"the requester cannot approve", "alice", "/approve " + approved.ID, approved.ID, bot.StateAwaitingApproval,
			"@alice you requested this deploy; someone else must approve it"},
		{"an approver approves", "carol", "/approve " + approved.ID, approved.ID, bot.StateQueued, ""},
		{"reject needs a reason", "dave", "/reject " + rejected.ID, rejected.ID, bot.StateAwaitingApproval,
			"@dave usage: /reject <request-id> <reason…>"},
		{"an approver rejects", "dave", "/reject " + rejected.ID + " not during the sale", rejected.ID, bot.StateRejected, ""},
		{"an unknown request", "dave", "/approve r-nope", "", "", "@dave there is no request r-nope in acme/shop"},
	}
	for _, s := range steps {
		before := len(w.replies())
		id := w.comment(t, s.login, s.body)
		if got := w.reactions(id); got != "tollgate[bot]:eyes" {
			t.Fatalf("%s: reactions %q", s.name, got)
		}
		if s.request != "" {
			got, err := w.svc.Request(ctx, s.request)
			if err != nil || got.State != s.wantState {
				t.Fatalf("%s: request is %s (%v), want %s", s.name, got.State, err, s.wantState)
			}
		}
		replies := w.replies()[before:]
		if s.wantReply == "" && len(replies) != 0 || s.wantReply != "" && (len(replies) != 1 || replies[0] != s.wantReply) {
			t.Fatalf("%s: replies %q, want %q", s.name, replies, s.wantReply)
		}
	}
	got, _ := w.svc.Request(ctx, approved.ID)
	if len(got.Approvals) != 1 || got.Approvals[0].Approver != w.identity("carol") {
		t.Fatalf("approvals %+v", got.Approvals)
	}
}

func TestCommentsThatAreNotCommands(t *testing.T) {
	tests := []struct {
		name  string
		login string
		body  string
		edit  bool
	}{
		{"ordinary comment", "bob", "LGTM, ship it", false},
		{"command not on the first line", "bob", "thanks!\n/deploy staging", false},
		{"edited into a command", "bob", "/deploy staging", true},
		{"written by a bot", "tollgate[bot]", "/deploy staging", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newCommentWorld(t)
			if tt.login == "tollgate[bot]" {
				// The app's own comments come from its bot user.
				if err := w.forge().ReplyToComment(context.Background(), hookRepo, 3, tt.body); err != nil {
					t.Fatal(err)
				}
				cs := w.gh.IssueComments(hookRepo, 3)
				p, err := w.gh.Payloads().IssueCommentCreated(hookRepo, cs[len(cs)-1].ID)
				w.deliver(t, p, err)
				if rs := w.requests(t); len(rs) != 0 {
					t.Fatalf("requests %+v", rs)
				}
				return
			}
			var id int64
			if tt.edit {
				id = w.gh.AddIssueComment(hookRepo, 3, tt.login, tt.body)
				p, err := w.gh.Payloads().IssueCommentEdited(hookRepo, id, "nice")
				w.deliver(t, p, err)
			} else {
				id = w.comment(t, tt.login, tt.body)
			}
			if rs := w.requests(t); len(rs) != 0 {
				t.Fatalf("requests %+v", rs)
			}
			if got := w.reactions(id); got != "" {
				t.Fatalf("reacted %q to a non-command", got)
			}
		})
	}
}

func TestCommentOnAnIssueIsIgnored(t *testing.T) {
	w := newHookWorld(t)
	n := w.gh.AddIssue(hookRepo, "Bug", "", "bob")
	id := w.gh.AddIssueComment(hookRepo, n, "bob", "/deploy staging")
	p, err := w.gh.Payloads().IssueCommentCreated(hookRepo, id)
	w.deliver(t, p, err)
	if rs := w.requests(t); len(rs) != 0 {
		t.Fatalf("requests %+v", rs)
	}
}

func TestCommentRollbackWithNothingToRollBackIsAnswered(t *testing.T) {
	w := newCommentWorld(t)
	w.comment(t, "bob", "/deploy rollback staging")
	if rs := w.requests(t); len(rs) != 0 {
		t.Fatalf("requests %+v", rs)
	}
	if got := w.replies(); len(got) != 1 || got[0] != "@bob staging has no earlier successful deploy to roll back to" {
		t.Fatalf("replies %q", got)
	}
}

func (w *hookWorld) forge() *forgeComments { return &forgeComments{api: w.api} }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
