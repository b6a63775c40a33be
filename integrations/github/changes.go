package github

import (
	"context"
	"fmt"
	"net/http"

	gh "github.com/google/go-github/v60/github"
	"github.com/tollgate-dev/tollgate/bot"
)

// Changes implements bot.Changes over the REST API of each repository's
// installation.
type Changes struct{ app *App }

// NewChanges returns a Changes over app's installations.
func NewChanges(app *App) *Changes { return &Changes{app: app} }

// perPage is the page size of every list call (GitHub's maximum).
const perPage = 100

// maxPages bounds paginated reads, so a pathological repository cannot
// keep a policy decision busy forever.
const maxPages = 20

func (c *Changes) client(ctx context.Context, repo string) (*gh.Client, string, string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return nil, "", "", err
	}
	cl, err := c.app.ForRepo(ctx, repo)
	if err != nil {
		return nil, "", "", err
	}
	return cl, owner, name, nil
}

// ResolveRef turns a branch, tag or SHA into the full commit SHA.
func (c *Changes) ResolveRef(ctx context.Context, repo, ref string) (string, error) {
	cl, owner, name, err := c.client(ctx, repo)
	if err != nil {
		return "", fmt.Errorf("resolving %s in %s: %w", ref, repo, err)
	}
	sha, resp, err := cl.Repositories.GetCommitSHA1(ctx, owner, name, ref, "")
	switch statusOf(resp) {
	case http.StatusNotFound, http.StatusUnprocessableEntity:
		return "", fmt.Errorf("resolving %s in %s: %w", ref, repo, bot.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("resolving %s in %s: %w", ref, repo, err)
	}
	return sha, nil
}

// PullRequestForCommit returns the pull request sha came through, with its
// reviews: a merged PR whose merge commit is sha first, then any merged
// PR, then an open one whose head is sha; nil when there is none.
func (c *Changes) PullRequestForCommit(ctx context.Context, repo, sha string) (*bot.PullRequest, error) {
	cl, owner, name, err := c.client(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("pull request of %s in %s: %w", short(sha), repo, err)
	}
	var all []*gh.PullRequest
	opts := &gh.ListOptions{PerPage: perPage}
	for range maxPages {
		prs, resp, err := cl.PullRequests.ListPullRequestsWithCommit(ctx, owner, name, sha, opts)
		if statusOf(resp) == http.StatusNotFound || statusOf(resp) == http.StatusUnprocessableEntity {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("pull requests with %s in %s: %w", short(sha), repo, err)
		}
		all = append(all, prs...)
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	best := pickPull(all, sha)
	if best == nil {
		return nil, nil
	}
	// The list omits merged_by; the single PR has it.
	pr, _, err := cl.PullRequests.Get(ctx, owner, name, best.GetNumber())
	if err != nil {
		return nil, fmt.Errorf("reading %s#%d: %w", repo, best.GetNumber(), err)
	}
	out := &bot.PullRequest{
		Number: pr.GetNumber(), Author: identityOf(pr.GetUser()), Title: pr.GetTitle(), Body: pr.GetBody(),
		HeadRef: pr.GetHead().GetRef(), BaseRef: pr.GetBase().GetRef(), HeadSHA: pr.GetHead().GetSHA(),
		Merged: pr.GetMerged() || pr.MergedAt != nil,
	}
	if out.Merged {
		out.MergedSHA = pr.GetMergeCommitSHA()
		out.MergedBy = identityOf(pr.GetMergedBy())
	}
	if out.Reviews, err = c.reviews(ctx, cl, owner, name, pr.GetNumber()); err != nil {
		return nil, fmt.Errorf("reviews of %s#%d: %w", repo, pr.GetNumber(), err)
	}
	if err := c.reviewFacts(ctx, cl, owner, name, sha, out); err != nil {
		return nil, fmt.Errorf("reviews of %s#%d: %w", repo, pr.GetNumber(), err)
	}
	return out, nil
}

// reviewFacts completes what the review check needs beyond the reviews:
// each approver's permission on the repository now (only write access
// counts), and the tree of every commit the check compares (the one
// asked about, the head, the merge commit, each approved commit), so a
// commit is recognised as reviewed by its content, not by being
// reachable from a reviewed one.
func (c *Changes) reviewFacts(ctx context.Context, cl *gh.Client, owner, name, sha string, pr *bot.PullRequest) error {
	perms := map[string]string{}
	commits := []string{sha, pr.HeadSHA, pr.MergedSHA}
	for i, r := range pr.Reviews {
		if r.State != bot.ReviewApproved || r.Dismissed || r.User.Login == "" {
			continue
		}
		p, ok := perms[r.User.Login]
		if !ok {
			lvl, _, err := cl.Repositories.GetPermissionLevel(ctx, owner, name, r.User.Login)
			if err != nil {
				return fmt.Errorf("permission of reviewer %s: %w", r.User.Login, err)
			}
			p = lvl.GetPermission()
			perms[r.User.Login] = p
		}
		pr.Reviews[i].Permission = p
		commits = append(commits, r.CommitID)
	}
	pr.Trees = map[string]string{}
	for _, commit := range commits {
		if commit == "" || pr.Trees[commit] != "" {
			continue
		}
		rc, resp, err := cl.Repositories.GetCommit(ctx, owner, name, commit, nil)
		if statusOf(resp) == http.StatusNotFound || statusOf(resp) == http.StatusUnprocessableEntity {
			continue // a force-pushed-away commit has no tree to compare
		}
		if err != nil {
			return fmt.Errorf("tree of %s: %w", short(commit), err)
		}
		if t := rc.GetCommit().GetTree().GetSHA(); t != "" {
			pr.Trees[commit] = t
		}
	}
	return nil
}

// pickPull chooses the PR a commit came through.
func pickPull(prs []*gh.PullRequest, sha string) *gh.PullRequest {
	rank := func(p *gh.PullRequest) int {
		merged := p.MergedAt != nil || p.GetMerged()
		switch {
		case merged && p.GetMergeCommitSHA() == sha:
			return 0
		case merged:
			return 1
		case p.GetHead().GetSHA() == sha:
			return 2
		}
		return 3
	}
	var best *gh.PullRequest
	for _, p := range prs {
		if best == nil || rank(p) < rank(best) {
			best = p
		}
	}
	return best
}

func (c *Changes) reviews(ctx context.Context, cl *gh.Client, owner, name string, number int) ([]bot.Review, error) {
	var out []bot.Review
	opts := &gh.ListOptions{PerPage: perPage}
	for range maxPages {
		rs, resp, err := cl.PullRequests.ListReviews(ctx, owner, name, number, opts)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			st := bot.ReviewState(r.GetState())
			out = append(out, bot.Review{User: identityOf(r.GetUser()), State: st, CommitID: r.GetCommitID(),
				SubmittedAt: r.GetSubmittedAt().Time, Dismissed: st == bot.ReviewDismissed})
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}

// Checks returns the latest commit status of each context and the latest
// check run of each name on sha.
func (c *Changes) Checks(ctx context.Context, repo, sha string) ([]bot.CheckResult, error) {
	cl, owner, name, err := c.client(ctx, repo)
	if err != nil {
		return nil, fmt.Errorf("checks on %s in %s: %w", short(sha), repo, err)
	}
	var out []bot.CheckResult
	opts := &gh.ListOptions{PerPage: perPage}
	for range maxPages {
		cs, resp, err := cl.Repositories.GetCombinedStatus(ctx, owner, name, sha, opts)
		if err != nil {
			return nil, fmt.Errorf("combined status of %s in %s: %w", short(sha), repo, err)
		}
		for _, s := range cs.Statuses {
			out = append(out, bot.CheckResult{Name: s.GetContext(), State: statusState(s.GetState())})
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	latest := "latest"
	ropts := &gh.ListCheckRunsOptions{Filter: &latest, ListOptions: gh.ListOptions{PerPage: perPage}}
	for range maxPages {
		runs, resp, err := cl.Checks.ListCheckRunsForRef(ctx, owner, name, sha, ropts)
		if err != nil {
			return nil, fmt.Errorf("check runs of %s in %s: %w", short(sha), repo, err)
		}
		for _, r := range runs.CheckRuns {
			out = append(out, bot.CheckResult{Name: r.GetName(), State: checkRunState(r.GetStatus(), r.GetConclusion())})
		}
		if resp.NextPage == 0 {
			break
		}
		ropts.Page = resp.NextPage
	}
	return out, nil
}

// statusState maps a commit status state; anything unknown is an error,
// which is never green.
func statusState(s string) bot.CheckState {
	switch s {
	case "success":
		return bot.CheckSuccess
	case "pending":
		return bot.CheckPending
	case "failure":
		return bot.CheckFailure
	}
	return bot.CheckError
}

// checkRunState maps a check run. Unfinished runs are pending; of the
// conclusions only success, neutral and skipped are green, as in branch
// protection; an unknown conclusion is an error.
func checkRunState(status, conclusion string) bot.CheckState {
	if status != "completed" {
		return bot.CheckPending
	}
	switch conclusion {
	case "success":
		return bot.CheckSuccess
	case "neutral":
		return bot.CheckNeutral
	case "skipped":
		return bot.CheckSkipped
	case "action_required", "stale":
		return bot.CheckPending
	case "failure", "timed_out", "cancelled", "startup_failure":
		return bot.CheckFailure
	}
	return bot.CheckError
}

// identityOf turns a GitHub user into a bot identity.
func identityOf(u *gh.User) bot.Identity {
	return bot.Identity{Login: u.GetLogin(), GitHubID: u.GetID()}
}

// short abbreviates a SHA for messages.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
