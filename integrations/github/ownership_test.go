package github

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// TestReporterKeepsToItsOwnComment (issue 15, findComment suspicion):
// another bot (a workflow's github-actions, another App) posts a comment
// carrying the request's marker before Tollgate has recorded its own. A
// Tollgate that lost the comment id writes a comment of its own and
// leaves the look-alike alone. Fails before this change: the other bot's
// comment was adopted, editing it was refused (403), and the request's
// comment was never written.
func TestReporterKeepsToItsOwnComment(t *testing.T) {
	w := newReporterWorld(t)
	r := at(goldenRequest(), bot.StateAwaitingApproval)
	r.Result, r.FinishedAt, r.QueuedAt = nil, time.Time{}, time.Time{}
	w.gh.AddBot("github-actions[bot]")
	fake := commentMarker(r.ID) + "\n✅ Deployed — approved by nobody"
	w.gh.AddIssueComment("acme/web", w.pr, "github-actions[bot]", fake)

	w.notify(t, bot.NotifyApprovalNeeded, r)

	cs := w.gh.IssueComments("acme/web", w.pr)
	if len(cs) != 2 {
		t.Fatalf("PR comments = %d, want the look-alike and Tollgate's own", len(cs))
	}
	if cs[0].Body != fake || cs[0].Edits != 0 {
		t.Errorf("the other bot's comment was changed: %+v", cs[0])
	}
	own := cs[1]
	if own.User != w.gh.AppSlug()+"[bot]" || !strings.HasPrefix(own.Body, commentMarker(r.ID)) {
		t.Errorf("Tollgate's comment: by %s\n%s", own.User, own.Body)
	}
	if got := w.bot.apply(r).ExternalRefs[RefComment]; got == "" {
		t.Error("Tollgate's own comment id was not recorded")
	}
}
