package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

// factCalls are the GitHub calls that fetch policy facts (refs, branches,
// pull requests, reviews, checks, statuses) or answer on the PR.
func factCalls(calls []githubtest.Call) []string {
	var out []string
	for _, c := range calls {
		p := c.Path
		for _, part := range []string{"/commits/", "/branches", "/pulls", "/git/ref", "/compare/", "/check-runs", "/status"} {
			if strings.Contains(p, part) {
				out = append(out, c.Method+" "+p)
				break
			}
		}
		if c.Method == "POST" && (strings.HasSuffix(p, "/comments") || strings.HasSuffix(p, "/reactions") || strings.HasSuffix(p, "/deployments")) {
			out = append(out, c.Method+" "+p)
		}
	}
	return out
}

// TestServeIgnoresCommandsFromOutsiders (issue 15 item 2): signed
// issue_comment webhooks through the real server.
//
// mallory, who is neither an organisation member nor a collaborator,
// comments /deploy production ten times on a PR of a public repository:
// nothing is stored but one audit line per comment up to her refusal
// limit, nothing is fetched but her membership (once per recorded
// comment, not at all once she used up her refusals), and she gets no
// reaction, no reply and no message in the approvals channel.
//
// dave, a member without a role, gets his refusal as a reply; only his
// team membership was looked up, no request was stored, and nothing
// reached the approvals channel. A merge by dave is kept as a refused
// request on the PR, and stays out of the approvals channel too.
//
// Fails before this change: 10 comments made 10 refused requests, a
// reply each, messages in the channel and 54 API calls.
func TestServeIgnoresCommandsFromOutsiders(t *testing.T) {
	w := newSlackE2E(t)
	w.gh.AddUser("mallory")
	w.gh.AddOrgMember("acme", "dave", "member")
	w.start(t)
	ctx := context.Background()
	w.gh.ResetCalls()

	before := len(w.gh.IssueComments(e2eRepo, 4))
	var mallorys []int64
	for i := range 10 {
		id := w.gh.AddIssueComment(e2eRepo, 4, "mallory", "/deploy production")
		mallorys = append(mallorys, id)
		p, err := w.gh.Payloads().IssueCommentCreated(e2eRepo, id)
		w.deliverAndWait(t, p, err)
		if i == 0 {
			if got := p.Get("comment.author_association"); got != "NONE" {
				t.Fatalf("mallory's comment carries author_association %v, want NONE", got)
			}
		}
	}
	calls := w.gh.Calls()
	var lookups []string
	for _, c := range calls {
		if strings.HasPrefix(c.Path, "/orgs/acme/memberships/mallory") {
			lookups = append(lookups, c.Path)
		}
	}
	if len(lookups) != bot.RefusalsPerWindow {
		t.Errorf("%d membership look-ups for 10 comments, want %d (none once her refusals are used up)", len(lookups), bot.RefusalsPerWindow)
	}
	if f := factCalls(calls); len(f) != 0 {
		t.Errorf("mallory's comments cost fact look-ups or answers: %v", f)
	}
	var others []string
	for _, c := range calls {
		switch {
		case strings.HasPrefix(c.Path, "/orgs/acme/memberships/mallory"):
		case strings.HasSuffix(c.Path, "/installation"), strings.HasSuffix(c.Path, "/access_tokens"):
			// the App finding its installation and a token: once per process
		case c.Path == "/orgs/acme/members":
			// the daily reconciliation, which runs at start
		default:
			others = append(others, c.Method+" "+c.Path)
		}
	}
	if len(others) != 0 {
		t.Errorf("mallory's 10 comments cost other GitHub calls: %v", others)
	}
	st := w.openDB(t)
	if rs, err := st.ListRequests(ctx, bot.RequestFilter{Limit: 100}); err != nil || len(rs) != 0 {
		t.Fatalf("requests stored: %d, %v", len(rs), err)
	}
	lines := auditDataWhere(t, st, `action = ? AND actor = 'mallory'`, bot.ActionActionRefused)
	if len(lines) != bot.RefusalsPerWindow {
		t.Errorf("%d audit lines for mallory, want %d", len(lines), bot.RefusalsPerWindow)
	}
	for _, l := range lines {
		if l["code"] != string(bot.CodeNoStanding) || l["action"] != "comment.deploy" {
			t.Errorf("audit line %v", l)
		}
	}
	if n := len(w.gh.IssueComments(e2eRepo, 4)); n != before+10 {
		t.Errorf("the PR has %d new comments, want mallory's 10 and no reply", n-before)
	}
	for _, id := range mallorys {
		if rs := w.gh.Reactions(e2eRepo, id); len(rs) != 0 {
			t.Errorf("comment %d got reactions %v", id, rs)
		}
	}

	// dave is a member without a role: his membership of deployers is all
	// that is looked up; he is told why; nothing is stored but the line.
	w.gh.ResetCalls()
	after := w.postCommand(t, 4, "dave", "/deploy production")
	var reply string
	waitFor(t, "the reply to dave", func() bool { var ok bool; reply, ok = w.appReply(4, "dave", after); return ok })
	if !strings.Contains(reply, "only members of acme/deployers may deploy here, and dave is not an active member") {
		t.Errorf("dave was told %q", reply)
	}
	var teamLookups int
	for _, c := range w.gh.Calls() {
		switch {
		case strings.HasPrefix(c.Path, "/orgs/acme/teams/"):
			teamLookups++
		case strings.Contains(c.Path, "/commits/"), strings.Contains(c.Path, "/branches"), strings.Contains(c.Path, "/pulls"),
			strings.Contains(c.Path, "/git/ref"), strings.Contains(c.Path, "/check-runs"), strings.Contains(c.Path, "/status"):
			t.Errorf("a fact was fetched for someone without a role: %s %s", c.Method, c.Path)
		}
	}
	if teamLookups != 1 {
		t.Errorf("%d team look-ups for dave's command, want 1 (deployers)", teamLookups)
	}
	st = w.openDB(t)
	if rs, _ := st.ListRequests(ctx, bot.RequestFilter{Limit: 100}); len(rs) != 0 {
		t.Errorf("dave's refused command stored %d requests", len(rs))
	}
	if l := auditDataWhere(t, st, `action = ? AND actor = 'dave'`, bot.ActionActionRefused); len(l) != 1 || l[0]["code"] != string(bot.CodeNotDeployer) {
		t.Errorf("dave's audit lines: %v", l)
	}

	// A merge by dave happened anyway: a refused request, on the PR only.
	w.openPR(t, 60)
	w.mergePR(t, 60, "dave", "success")
	id, body := w.requestComment(t, 60)
	if !strings.Contains(body, "dave is not an active member") {
		t.Errorf("the refused merge's comment:\n%s", body)
	}
	if r := w.request(t, id); r.State != bot.StateRejected || !r.Decision.NoRole() {
		t.Errorf("dave's merge: %s, decision %+v", r.State, r.Decision)
	}
	if code := w.stop(t); code != 0 {
		t.Fatalf("serve exit %d\n%s", code, w.stderr)
	}
	for _, m := range w.sl.Messages(slackE2EChannel) {
		if strings.HasPrefix(m.Text, ":clipboard: No access review") {
			continue // the access review reminder, at start
		}
		t.Errorf("the approvals channel got %s", fmt.Sprint(m.Text))
	}
}
