package githubtest

import (
	"net/http"
	"testing"

	"github.com/google/go-github/v60/github"
)

func TestPullReviewsAndCommitPulls(t *testing.T) {
	gh, inst := newFake(t)
	n := gh.AddPullRequest("acme/web", PullRequest{Title: "Add cache", Author: "alice", HeadSHA: sha("h2"), Commits: []string{sha("h1")}})
	gh.AddReview("acme/web", n, Review{User: "bob", State: "APPROVED", CommitID: sha("h1")})
	dismissed := gh.AddReview("acme/web", n, Review{User: "carol", State: "APPROVED"})
	gh.DismissReview("acme/web", n, dismissed)
	gh.MergePullRequest("acme/web", n, sha("merge"), "bob")
	c := installationClient(t, gh, inst)

	pr, _, err := c.PullRequests.Get(ctx(t), "acme", "web", n)
	if err != nil {
		t.Fatal(err)
	}
	if !pr.GetMerged() || pr.GetMergeCommitSHA() != sha("merge") || pr.GetMergedBy().GetLogin() != "bob" ||
		pr.GetUser().GetLogin() != "alice" || pr.GetHead().GetSHA() != sha("h2") || pr.GetBase().GetRef() != "main" || pr.GetTitle() != "Add cache" {
		t.Errorf("PR = merged %v sha %s by %s author %s head %s base %s", pr.GetMerged(), pr.GetMergeCommitSHA(),
			pr.GetMergedBy().GetLogin(), pr.GetUser().GetLogin(), pr.GetHead().GetSHA(), pr.GetBase().GetRef())
	}
	reviews, _, err := c.PullRequests.ListReviews(ctx(t), "acme", "web", n, nil)
	if err != nil || len(reviews) != 2 {
		t.Fatalf("reviews = %v, %v", reviews, err)
	}
	if reviews[0].GetState() != "APPROVED" || reviews[0].GetCommitID() != sha("h1") || reviews[1].GetState() != "DISMISSED" {
		t.Errorf("reviews = %s@%s, %s", reviews[0].GetState(), reviews[0].GetCommitID(), reviews[1].GetState())
	}
	for _, commit := range []string{sha("merge"), sha("h2"), sha("h1")} {
		prs, _, err := c.PullRequests.ListPullRequestsWithCommit(ctx(t), "acme", "web", commit, nil)
		if err != nil || len(prs) != 1 || prs[0].GetNumber() != n {
			t.Errorf("PRs with commit %s = %v, %v", commit[:7], prs, err)
		}
	}
}

func TestCommitRefsCompareAndChecks(t *testing.T) {
	gh, inst := newFake(t)
	n := gh.AddPullRequest("acme/web", PullRequest{HeadSHA: sha("feat")})
	gh.MergePullRequest("acme/web", n, sha("merge"), "bob")
	gh.AddCommit("acme/web", "other", sha("stray"))
	gh.AddTag("acme/web", "v1.0.0", sha("merge"))
	c := installationClient(t, gh, inst)

	refs := []struct{ ref, want string }{
		{"main", sha("merge")}, {"refs/heads/main", sha("merge")}, {"v1.0.0", sha("merge")}, {sha("feat")[:7], sha("feat")},
	}
	for _, r := range refs {
		got, _, err := c.Repositories.GetCommitSHA1(ctx(t), "acme", "web", r.ref, "")
		if err != nil || got != r.want {
			t.Errorf("sha of %s = %q, %v; want %s", r.ref, got, err, r.want)
		}
	}
	if _, resp, _ := c.Repositories.GetCommitSHA1(ctx(t), "acme", "web", "no-such-branch", ""); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("unknown ref: status %d, want 422", resp.StatusCode)
	}
	commit, _, err := c.Repositories.GetCommit(ctx(t), "acme", "web", sha("merge"), nil)
	if err != nil || len(commit.Parents) != 2 {
		t.Errorf("merge commit = %v, %v", commit, err)
	}

	tests := []struct {
		name, base, head, status string
	}{
		{"PR head merged into main", "main", sha("feat"), "behind"},
		{"main head itself", "main", sha("merge"), "identical"},
		{"main ahead of old base", sha("base"), "main", "ahead"},
		{"commit on another branch only", "main", sha("stray"), "diverged"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmp, _, err := c.Repositories.CompareCommits(ctx(t), "acme", "web", tt.base, tt.head, nil)
			if err != nil || cmp.GetStatus() != tt.status {
				t.Errorf("compare %s...%s = %q, %v; want %s", tt.base, tt.head, cmp.GetStatus(), err, tt.status)
			}
		})
	}

	gh.SetStatus("acme/web", sha("merge"), "ci/build", "failure")
	gh.SetStatus("acme/web", sha("merge"), "ci/build", "success")
	gh.SetStatus("acme/web", sha("merge"), "ci/lint", "pending")
	gh.SetCheckRun("acme/web", sha("merge"), "test", "completed", "success")
	gh.SetCheckRun("acme/web", sha("merge"), "e2e", "in_progress", "")
	st, _, err := c.Repositories.GetCombinedStatus(ctx(t), "acme", "web", "main", nil)
	if err != nil || st.GetState() != "pending" || st.GetTotalCount() != 2 {
		t.Errorf("combined status = %v (%d), %v", st.GetState(), st.GetTotalCount(), err)
	}
	runs, _, err := c.Checks.ListCheckRunsForRef(ctx(t), "acme", "web", "main", nil)
	if err != nil || runs.GetTotal() != 2 || runs.CheckRuns[0].GetConclusion() != "success" || runs.CheckRuns[1].Conclusion != nil {
		t.Errorf("check runs = %+v, %v", runs, err)
	}
}

func TestOrgBranchProtectionAndContents(t *testing.T) {
	gh, inst := newFake(t)
	gh.SetOrgTwoFactorRequired("acme", true)
	gh.SetBranchProtection("acme/web", "main", BranchProtection{RequiredApprovingReviews: 1, DismissStaleReviews: true})
	gh.AddCommit("acme/web", "dev", sha("dev"))
	c := installationClient(t, gh, inst)

	org, _, err := c.Organizations.Get(ctx(t), "acme")
	if err != nil || !org.GetTwoFactorRequirementEnabled() {
		t.Errorf("org 2FA = %v, %v", org.GetTwoFactorRequirementEnabled(), err)
	}
	p, _, err := c.Repositories.GetBranchProtection(ctx(t), "acme", "web", "main")
	if err != nil || p.GetRequiredPullRequestReviews().RequiredApprovingReviewCount != 1 || p.GetAllowForcePushes().Enabled {
		t.Errorf("protection = %+v, %v", p, err)
	}
	if _, _, err := c.Repositories.GetBranchProtection(ctx(t), "acme", "web", "dev"); err != github.ErrBranchNotProtected {
		t.Errorf("unprotected branch: err %v, want ErrBranchNotProtected", err)
	}

	opts := &github.RepositoryContentFileOptions{Message: github.String("checkpoint"), Content: []byte("tree 1\n"), Branch: github.String("main")}
	res, resp, err := c.Repositories.CreateFile(ctx(t), "acme", "web", "checkpoints/2026-01-02.txt", opts)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create file: %v %v", resp, err)
	}
	file, _, _, err := c.Repositories.GetContents(ctx(t), "acme", "web", "checkpoints/2026-01-02.txt", &github.RepositoryContentGetOptions{Ref: "main"})
	if err != nil {
		t.Fatal(err)
	}
	if text, _ := file.GetContent(); text != "tree 1\n" || file.GetSHA() != res.Content.GetSHA() {
		t.Errorf("content = %q sha %s", text, file.GetSHA())
	}
	update := &github.RepositoryContentFileOptions{Message: github.String("checkpoint 2"), Content: []byte("tree 1\ntree 2\n"), Branch: github.String("main")}
	if _, resp, _ := c.Repositories.UpdateFile(ctx(t), "acme", "web", "checkpoints/2026-01-02.txt", update); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("update without sha: status %d, want 422", resp.StatusCode)
	}
	update.SHA = github.String(file.GetSHA())
	if _, resp, err := c.Repositories.UpdateFile(ctx(t), "acme", "web", "checkpoints/2026-01-02.txt", update); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("update: %v %v", resp, err)
	}
	if _, resp, _ := c.Repositories.UpdateFile(ctx(t), "acme", "web", "checkpoints/2026-01-02.txt", update); resp.StatusCode != http.StatusConflict {
		t.Errorf("update with stale sha: status %d, want 409", resp.StatusCode)
	}
	if got, _ := gh.File("acme/web", "main", "checkpoints/2026-01-02.txt"); string(got) != "tree 1\ntree 2\n" {
		t.Errorf("stored file = %q", got)
	}
}
