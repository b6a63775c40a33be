package github

import (
	"context"
	"fmt"
	"net/http"
	"path"
	"strings"

	gh "github.com/google/go-github/v60/github"
)

// maxPatternCompares bounds how many matching branches one pattern check
// compares against a SHA (one API call each). Beyond it the check is an
// error asking for a narrower pattern rather than a guess either way.
const maxPatternCompares = 100

// isBranchPattern reports whether a configured branch is a path.Match
// pattern. Git forbids '*', '?', '[' and '\' in branch names
// (git check-ref-format), so any of them means a pattern.
func isBranchPattern(branch string) bool { return strings.ContainsAny(branch, `*?[\`) }

// BranchContains reports whether sha is the head of branch or merged into
// it. branch may be a path.Match pattern ("release/*", "*"; '*' never
// crosses a '/', as in GitHub's branch protection rules): then sha is
// contained when any branch of the repository the pattern matches
// contains it.
func (c *Changes) BranchContains(ctx context.Context, repo, branch, sha string) (bool, error) {
	cl, owner, name, err := c.client(ctx, repo)
	if err != nil {
		return false, fmt.Errorf("is %s on %s of %s: %w", short(sha), branch, repo, err)
	}
	if !isBranchPattern(branch) {
		return compareContains(ctx, cl, owner, name, branch, sha)
	}
	if _, err := path.Match(branch, ""); err != nil {
		return false, fmt.Errorf("branch pattern %q of %s: %w", branch, repo, err)
	}
	matching, err := matchingBranches(ctx, cl, owner, name, branch)
	if err != nil {
		return false, fmt.Errorf("is %s on a branch matching %q of %s: %w", short(sha), branch, repo, err)
	}
	for _, b := range matching {
		if b.GetCommit().GetSHA() == sha {
			return true, nil // a head needs no comparison (an open PR's head is one)
		}
	}
	if len(matching) > maxPatternCompares {
		return false, fmt.Errorf("branch pattern %q matches %d branches of %s, more than the %d Tollgate compares %s with; narrow the pattern",
			branch, len(matching), repo, maxPatternCompares, short(sha))
	}
	for _, b := range matching {
		on, err := compareContains(ctx, cl, owner, name, b.GetName(), sha)
		if err != nil {
			return false, fmt.Errorf("is %s on %s (matching %q) of %s: %w", short(sha), b.GetName(), branch, repo, err)
		}
		if on {
			return true, nil
		}
	}
	return false, nil
}

// compareContains asks GitHub to compare branch...sha: identical or behind
// means sha is the branch's head or merged into it.
func compareContains(ctx context.Context, cl *gh.Client, owner, name, branch, sha string) (bool, error) {
	cmp, resp, err := cl.Repositories.CompareCommits(ctx, owner, name, branch, sha, &gh.ListOptions{PerPage: 1})
	if statusOf(resp) == http.StatusNotFound {
		return false, nil // no such branch or commit: not contained
	}
	if err != nil {
		return false, fmt.Errorf("is %s on %s of %s/%s: %w", short(sha), branch, owner, name, err)
	}
	switch cmp.GetStatus() {
	case "identical", "behind":
		return true, nil
	}
	return false, nil
}

// matchingBranches lists every branch of the repository whose name the
// pattern matches, reading all pages (up to maxPages of perPage).
func matchingBranches(ctx context.Context, cl *gh.Client, owner, name, pattern string) ([]*gh.Branch, error) {
	var out []*gh.Branch
	opts := &gh.BranchListOptions{ListOptions: gh.ListOptions{PerPage: perPage}}
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("listing branches of %s/%s: more than %d pages", owner, name, maxPages)
		}
		bs, resp, err := cl.Repositories.ListBranches(ctx, owner, name, opts)
		if err != nil {
			return nil, fmt.Errorf("listing branches of %s/%s: %w", owner, name, err)
		}
		for _, b := range bs {
			if ok, _ := path.Match(pattern, b.GetName()); ok {
				out = append(out, b)
			}
		}
		if resp.NextPage == 0 {
			return out, nil
		}
		opts.Page = resp.NextPage
	}
}
