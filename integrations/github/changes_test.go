package github

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

func TestChangesRefsAndBranches(t *testing.T) {
	w := newOutWorld(t)
	n := w.gh.AddPullRequest("acme/web", githubtest.PullRequest{Author: "alice", HeadSHA: outSHA("feat")})
	w.gh.MergePullRequest("acme/web", n, outSHA("merge"), "bob")
	w.gh.AddCommit("acme/web", "stray", outSHA("stray"))
	w.gh.AddTag("acme/web", "v1.0.0", outSHA("merge"))
	ch := NewChanges(w.app)

	refs := []struct {
		name, ref, want string
		notFound        bool
	}{
		{"branch", "main", outSHA("merge"), false},
		{"tag", "v1.0.0", outSHA("merge"), false},
		{"short sha", outSHA("feat")[:8], outSHA("feat"), false},
		{"unknown ref", "no-such-branch", "", true},
	}
	for _, tt := range refs {
		t.Run("resolve "+tt.name, func(t *testing.T) {
			got, err := ch.ResolveRef(outCtx(t), "acme/web", tt.ref)
			if tt.notFound {
				if !errors.Is(err, bot.ErrNotFound) {
					t.Fatalf("ResolveRef(%s) = %q, %v; want bot.ErrNotFound", tt.ref, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ResolveRef(%s) = %q, %v; want %s", tt.ref, got, err, tt.want)
			}
		})
	}
	contains := []struct {
		name, branch, sha string
		want              bool
	}{
		{"head of the branch", "main", outSHA("merge"), true},
		{"merged into the branch", "main", outSHA("feat"), true},
		{"older commit on the branch", "main", outSHA("base"), true},
		{"commit only on another branch", "main", outSHA("stray"), false},
		{"branch that does not exist", "release", outSHA("merge"), false},
	}
	for _, tt := range contains {
		t.Run("contains "+tt.name, func(t *testing.T) {
			got, err := ch.BranchContains(outCtx(t), "acme/web", tt.branch, tt.sha)
			if err != nil || got != tt.want {
				t.Fatalf("BranchContains(%s, %s) = %v, %v; want %v", tt.branch, tt.sha[:7], got, err, tt.want)
			}
		})
	}
}

func TestChangesPullRequestForCommit(t *testing.T) {
	w := newOutWorld(t)
	n := w.gh.AddPullRequest("acme/web", githubtest.PullRequest{Title: "Add cache", Author: "alice",
		HeadRef: "cache", HeadSHA: outSHA("h2"), Commits: []string{outSHA("h1")}})
	w.gh.AddReview("acme/web", n, githubtest.Review{User: "bob", State: "APPROVED", CommitID: outSHA("h1")})
	dismissed := w.gh.AddReview("acme/web", n, githubtest.Review{User: "carol", State: "APPROVED"})
	w.gh.DismissReview("acme/web", n, dismissed)
	w.gh.AddReview("acme/web", n, githubtest.Review{User: "dave", State: "APPROVED"})
	w.gh.MergePullRequest("acme/web", n, outSHA("merge"), "erin")
	w.gh.SetCollaborator("acme/web", "dave", "maintain") // GitHub reports maintain as write
	files := map[string]string{"index.html": "cache\n"}
	for _, c := range []string{outSHA("h2"), outSHA("merge")} {
		if err := w.gh.SetTarball("acme/web", c, files); err != nil {
			t.Fatal(err)
		}
	}
	open := w.gh.AddPullRequest("acme/web", githubtest.PullRequest{Author: "frank", HeadSHA: outSHA("open")})
	ch := NewChanges(w.app)

	pr, err := ch.PullRequestForCommit(outCtx(t), "acme/web", outSHA("merge"))
	if err != nil || pr == nil {
		t.Fatalf("PullRequestForCommit(merge) = %v, %v", pr, err)
	}
	if pr.Number != n || !pr.Merged || pr.MergedSHA != outSHA("merge") || pr.MergedBy.Login != "erin" ||
		pr.Author.Login != "alice" || pr.Author.GitHubID != w.gh.UserID("alice") || pr.HeadSHA != outSHA("h2") ||
		pr.HeadRef != "cache" || pr.BaseRef != "main" || pr.Title != "Add cache" {
		t.Errorf("PR = %+v", pr)
	}
	type rv struct {
		who        string
		state      bot.ReviewState
		commit     string
		dismissed  bool
		permission string
	}
	var got []rv
	for _, r := range pr.Reviews {
		got = append(got, rv{r.User.Login, r.State, r.CommitID, r.Dismissed, r.Permission})
	}
	// Permissions are looked up for approvals that stand: bob is not a
	// collaborator of the private repository nor in its organisation,
	// dave maintains it, carol's review was dismissed.
	want := []rv{
		{"bob", bot.ReviewApproved, outSHA("h1"), false, "none"},
		{"carol", bot.ReviewDismissed, outSHA("h2"), true, ""},
		{"dave", bot.ReviewApproved, outSHA("h2"), false, "write"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("reviews = %+v\nwant %+v", got, want)
	}

	// Trees of the commits the review check compares: the head and the
	// merge hold the same files, the earlier approved commit its own.
	if tr := pr.Trees; tr[outSHA("h2")] == "" || tr[outSHA("h2")] != tr[outSHA("merge")] || tr[outSHA("h1")] == "" ||
		tr[outSHA("h1")] == tr[outSHA("h2")] {
		t.Errorf("trees = %v", tr)
	}

	if pr, err := ch.PullRequestForCommit(outCtx(t), "acme/web", outSHA("open")); err != nil || pr == nil || pr.Number != open || pr.Merged {
		t.Errorf("PullRequestForCommit(open head) = %+v, %v; want open #%d", pr, err, open)
	}
	if pr, err := ch.PullRequestForCommit(outCtx(t), "acme/web", outSHA("base")); err != nil || pr != nil {
		t.Errorf("PullRequestForCommit(direct push) = %+v, %v; want nil", pr, err)
	}
}

func TestChangesChecks(t *testing.T) {
	w := newOutWorld(t)
	sha := outSHA("base")
	w.gh.SetStatus("acme/web", sha, "ci/lint", "failure")
	w.gh.SetStatus("acme/web", sha, "ci/lint", "success") // latest wins
	w.gh.SetStatus("acme/web", sha, "ci/e2e", "pending")
	w.gh.SetCheckRun("acme/web", sha, "build", "completed", "success")
	w.gh.SetCheckRun("acme/web", sha, "docs", "completed", "skipped")
	w.gh.SetCheckRun("acme/web", sha, "test", "completed", "timed_out")
	w.gh.SetCheckRun("acme/web", sha, "deploy-preview", "in_progress", "")
	got, err := NewChanges(w.app).Checks(outCtx(t), "acme/web", sha)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]bot.CheckState{}
	for _, c := range got {
		states[c.Name] = c.State
	}
	want := map[string]bot.CheckState{
		"ci/lint": bot.CheckSuccess, "ci/e2e": bot.CheckPending, "build": bot.CheckSuccess,
		"docs": bot.CheckSkipped, "test": bot.CheckFailure, "deploy-preview": bot.CheckPending,
	}
	if len(got) != len(want) {
		t.Errorf("checks = %+v, want %d entries", got, len(want))
	}
	for name, st := range want {
		if states[name] != st {
			t.Errorf("check %s = %q, want %q", name, states[name], st)
		}
	}
}

func TestCheckRunStateMapping(t *testing.T) {
	tests := []struct {
		status, conclusion string
		want               bot.CheckState
	}{
		{"queued", "", bot.CheckPending},
		{"completed", "success", bot.CheckSuccess},
		{"completed", "neutral", bot.CheckNeutral},
		{"completed", "cancelled", bot.CheckFailure},
		{"completed", "action_required", bot.CheckPending},
		{"completed", "something-new", bot.CheckError},
	}
	for _, tt := range tests {
		t.Run(tt.status+"/"+tt.conclusion, func(t *testing.T) {
			if got := checkRunState(tt.status, tt.conclusion); got != tt.want {
				t.Errorf("checkRunState = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestChangesBranchPatterns: a configured branch may be a path.Match
// pattern; the SHA is contained when any branch the pattern matches has it.
func TestChangesBranchPatterns(t *testing.T) {
	w := newOutWorld(t)
	n := w.gh.AddPullRequest("acme/web", githubtest.PullRequest{Author: "alice", HeadSHA: outSHA("feat")})
	w.gh.MergePullRequest("acme/web", n, outSHA("merge"), "bob")
	w.gh.AddPullRequest("acme/web", githubtest.PullRequest{Author: "carol", HeadRef: "cache-fix", HeadSHA: outSHA("prhead")})
	// 120 branches sort before release/*, so release/* is on the second page.
	for i := range 120 {
		w.gh.AddCommit("acme/web", fmt.Sprintf("old/%03d", i), outSHA("base"))
	}
	w.gh.AddCommit("acme/web", "release/1.0", outSHA("rel1"))
	w.gh.AddCommit("acme/web", "release/1.0", outSHA("rel1fix"))
	w.gh.AddCommit("acme/web", "team/x", outSHA("teamx"))
	w.gh.AddCommit("acme/web", "stray-branch", outSHA("stray"))
	ch := NewChanges(w.app)

	tests := []struct {
		name, pattern, sha string
		want               bool
	}{
		{"star admits an open PR's head on its branch", "*", outSHA("prhead"), true},
		{"star admits an older commit by comparison", "*", outSHA("base"), true},
		{"pattern matching a branch on the second page", "release/*", outSHA("rel1"), true},
		{"pattern admits the head of a matching branch", "release/*", outSHA("rel1fix"), true},
		{"pattern refuses a commit on no matching branch", "release/*", outSHA("feat"), false},
		{"star does not cross a slash", "*", outSHA("rel1"), false},
		{"star after a prefix", "team/*", outSHA("teamx"), true},
		{"question mark", "releas?/1.?", outSHA("rel1"), true},
		{"character class", "[st]*", outSHA("stray"), true},
		{"pattern matching no branch", "hotfix-*", outSHA("merge"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ch.BranchContains(outCtx(t), "acme/web", tt.pattern, tt.sha)
			if err != nil || got != tt.want {
				t.Fatalf("BranchContains(%s, %s) = %v, %v; want %v", tt.pattern, tt.sha[:7], got, err, tt.want)
			}
		})
	}
	if u := w.gh.UnexpectedCalls(); len(u) != 0 {
		t.Errorf("calls the fake does not serve: %v", u)
	}
}

// TestChangesBranchPatternTooBroad: a pattern matching more branches than
// are worth comparing is an error naming the pattern, never a silent "no".
func TestChangesBranchPatternTooBroad(t *testing.T) {
	w := newOutWorld(t)
	for i := range maxPatternCompares + 1 {
		w.gh.AddCommit("acme/web", fmt.Sprintf("old/%03d", i), outSHA("base"))
	}
	w.gh.AddCommit("acme/web", "elsewhere", outSHA("stray"))
	ch := NewChanges(w.app)
	got, err := ch.BranchContains(outCtx(t), "acme/web", "old/*", outSHA("stray"))
	if err == nil || !strings.Contains(err.Error(), `"old/*" matches`) {
		t.Fatalf("BranchContains(old/*) = %v, %v; want an error naming the pattern", got, err)
	}
	// The head of a matching branch needs no comparison, however many match.
	if got, err := ch.BranchContains(outCtx(t), "acme/web", "old/*", outSHA("base")); err != nil || !got {
		t.Fatalf("BranchContains(old/*, head) = %v, %v; want true", got, err)
	}
}
