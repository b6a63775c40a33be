package github_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	tgh "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/store"
)

// TestLabelDeployOfAPRHeadAgainstBranchPatterns: a deploy:<env> label
// deploys the PR head, which is on the PR's head branch only. The domain's
// branch check, asking the real Changes, admits it exactly when one of the
// environment's branch entries matches that branch.
func TestLabelDeployOfAPRHeadAgainstBranchPatterns(t *testing.T) {
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	gh.AddInstallation("acme")
	gh.AddRepo(hookRepo)
	gh.AddCommit(hookRepo, "main", hookSHA('a'))
	gh.SetTeamMember("acme", "deployers", "alice", "")
	gh.AddPullRequest(hookRepo, githubtest.PullRequest{Number: 7, Author: "bob", HeadRef: "cache", HeadSHA: hookSHA('b')})
	gh.AddPullRequest(hookRepo, githubtest.PullRequest{Number: 8, Author: "bob", HeadRef: "feature/search", HeadSHA: hookSHA('c')})
	app, err := tgh.NewApp(context.Background(), tgh.AppConfig{APIURL: gh.APIURL(), AppID: gh.AppID(), PrivateKey: gh.AppPrivateKeyPEM()})
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		branches  []string
		headRef   string
		sha       string
		wantAllow bool
	}{
		{"star admits a PR head on its branch", []string{"main", "*"}, "cache", hookSHA('b'), true},
		{"main alone refuses a PR head", []string{"main"}, "cache", hookSHA('b'), false},
		{"an unrelated pattern refuses it", []string{"release/*"}, "cache", hookSHA('b'), false},
		{"star does not admit a branch with a slash", []string{"*"}, "feature/search", hookSHA('c'), false},
		{"a two-level pattern does", []string{"*", "feature/*"}, "feature/search", hookSHA('c'), true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "tollgate.db"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			policies := bot.NewPolicySet(&bot.EnvironmentPolicy{Repo: hookRepo, Environment: "preview",
				Deployers: []bot.Team{{Org: "acme", Slug: "deployers"}}, Branches: tt.branches})
			svc, err := bot.New(bot.Config{Store: st, Directory: tgh.NewDirectory(app, 0), Changes: tgh.NewChanges(app),
				Deployer: &recordingDeployer{}, Policies: policies})
			if err != nil {
				t.Fatal(err)
			}
			out, err := svc.Submit(context.Background(), bot.NewRequest{SourceKey: "label-" + string(rune('a'+i)),
				Repo: hookRepo, Environment: "preview", Ref: tt.headRef, SHA: tt.sha,
				Trigger: bot.TriggerLabel, Requester: bot.Identity{Login: "alice"}})
			if out.Decision.Allowed != tt.wantAllow {
				t.Fatalf("allowed %v (%v), want %v; checks %+v", out.Decision.Allowed, err, tt.wantAllow, out.Decision.Checks)
			}
			if !tt.wantAllow {
				if ref, ok := bot.AsRefusal(err); !ok || ref.Code != bot.CodeBranchNotAllowed {
					t.Fatalf("refusal %v, want %s", err, bot.CodeBranchNotAllowed)
				}
			}
		})
	}
}
