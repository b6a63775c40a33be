package githubtest

import (
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-github/v60/github"
)

func TestListBranchesPaginates(t *testing.T) {
	gh, inst := newFake(t)
	gh.AddCommit("acme/web", "release/1.0", sha("r1"))
	gh.AddCommit("acme/web", "release/2.0", sha("r2"))
	gh.AddCommit("acme/web", "feature-x", sha("fx"))
	gh.SetBranchProtection("acme/web", "main", BranchProtection{})
	c := installationClient(t, gh, inst)

	tests := []struct {
		name      string
		perPage   int
		protected bool
		want      []string
		wantPages int
	}{
		{"one page", 100, false, []string{"feature-x", "main", "release/1.0", "release/2.0"}, 1},
		{"page of one", 1, false, []string{"feature-x", "main", "release/1.0", "release/2.0"}, 4},
		{"pages of three", 3, false, []string{"feature-x", "main", "release/1.0", "release/2.0"}, 2},
		{"protected only", 10, true, []string{"main"}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var names []string
			heads := map[string]string{}
			pages := 0
			opts := &github.BranchListOptions{ListOptions: github.ListOptions{PerPage: tt.perPage}}
			if tt.protected {
				opts.Protected = github.Bool(true)
			}
			for {
				bs, resp, err := c.Repositories.ListBranches(ctx(t), "acme", "web", opts)
				if err != nil {
					t.Fatalf("ListBranches page %d: %v", opts.Page, err)
				}
				pages++
				for _, b := range bs {
					names = append(names, b.GetName())
					heads[b.GetName()] = b.GetCommit().GetSHA()
				}
				if resp.NextPage == 0 || pages > 10 {
					break
				}
				opts.Page = resp.NextPage
			}
			if !slices.Equal(names, tt.want) || pages != tt.wantPages {
				t.Fatalf("branches = %v in %d pages; want %v in %d", names, pages, tt.want, tt.wantPages)
			}
			if heads["main"] != "" && heads["main"] != sha("base") {
				t.Errorf("main head = %s; want %s", heads["main"], sha("base"))
			}
		})
	}
}

func TestListBranchesRefusesBadPageAndUnknownRepo(t *testing.T) {
	gh, inst := newFake(t)
	c := installationClient(t, gh, inst)
	tests := []struct {
		name, owner, repo string
		opts              *github.BranchListOptions
		want              int
	}{
		{"unknown repository", "acme", "nope", nil, http.StatusNotFound},
		{"negative page", "acme", "web", &github.BranchListOptions{ListOptions: github.ListOptions{Page: -1}}, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, resp, err := c.Repositories.ListBranches(ctx(t), tt.owner, tt.repo, tt.opts)
			if err == nil || resp == nil || resp.StatusCode != tt.want {
				t.Fatalf("ListBranches = %v, %v; want status %d", resp, err, tt.want)
			}
		})
	}
}
