package demo

import (
	"context"
	"fmt"

	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// The demo's organisation, repository and people.
const (
	demoOrg      = "acme"
	demoRepo     = "acme/shop"
	demoChannel  = "C0DEPLOYS"
	demoChanName = "deploys"
)

// demoPerson is someone in the story: a GitHub account, and a Slack user
// when they use Slack.
type demoPerson struct {
	Login     string
	SlackID   string
	Teams     []string
	Describes string
}

// The cast. Carol is both a deployer and an approver, so refusing her own
// approval is separation of duties at work, not a missing team.
var (
	demoAlice = demoPerson{Login: "alice", SlackID: "U0ALICE", Teams: []string{"backend"},
		Describes: "developer: writes and merges the pull requests"}
	demoBob = demoPerson{Login: "bob", SlackID: "U0BOB", Teams: []string{"backend", "backend-leads"},
		Describes: "lead: reviews pull requests, approves production deploys"}
	demoCarol = demoPerson{Login: "carol", SlackID: "U0CAROL", Teams: []string{"backend", "backend-leads"},
		Describes: "lead: asks for the production deploy"}
	demoDan = demoPerson{Login: "dan", SlackID: "U0DAN", Teams: []string{"backend", "oncall"},
		Describes: "on call: ships the emergency fix"}
	demoCast = []demoPerson{demoAlice, demoBob, demoCarol, demoDan}

	// demoViewer is who the fake GitHub signs in to the web pages: the
	// story's own fetches and a person's browser once the story is over.
	demoViewer = demoBob
)

// demoFakes are the fake GitHub and Slack the demo's Tollgate talks to.
type demoFakes struct {
	gh    *githubtest.Server
	slack *slacktest.Server
	hist  demoHistory
}

// startDemoFakes starts the fakes and builds the world: the organisation
// with its teams, the repository with its root commit, the App installed,
// the Slack workspace with its deploy channel.
func startDemoFakes(ctx context.Context, hist demoHistory) (*demoFakes, error) {
	f := &demoFakes{gh: githubtest.New(), slack: slacktest.New(slacktest.Options{}), hist: hist}
	gh := f.gh
	gh.AddRepo(demoRepo)
	gh.AddInstallation(demoOrg)
	for _, p := range demoCast {
		for _, t := range p.Teams {
			gh.SetTeamMember(demoOrg, t, p.Login, "")
		}
		f.slack.AddUser(p.SlackID, p.Login)
	}
	gh.AddTeam(demoOrg, "platform-admins")
	gh.AddCommit(demoRepo, "main", hist.Initial.SHA)
	f.slack.AddChannel(demoChannel, demoChanName)
	// GitHub serves `git archive` of every commit on main. Commits are put
	// in the world before their tarball, so their parents are recorded.
	if err := gh.SetTarballFromGit(ctx, demoRepo, hist.Initial.SHA, hist.Dir); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *demoFakes) close() {
	f.gh.Close()
	f.slack.Close()
}

// mergePullRequest puts pull request number in the world as it happens
// on GitHub: opened by alice, approved by bob, CI green on the merge
// commit, merged by alice. It returns the merged webhook payload.
func (f *demoFakes) mergePullRequest(ctx context.Context, number int, c demoCommit) (githubtest.Payload, error) {
	gh := f.gh
	gh.AddPullRequest(demoRepo, githubtest.PullRequest{Number: number, Title: c.Title, Author: demoAlice.Login,
		HeadRef: c.Branch, HeadSHA: c.HeadSHA, Base: "main"})
	gh.SetCollaborator(demoRepo, demoBob.Login, "write") // only reviews by people with write access count
	gh.AddReview(demoRepo, number, githubtest.Review{User: demoBob.Login, State: "APPROVED", Body: "Looks good."})
	for _, sha := range []string{c.HeadSHA, c.SHA} {
		gh.SetStatus(demoRepo, sha, "build", "success")
		gh.SetStatus(demoRepo, sha, "test", "success")
	}
	gh.MergePullRequest(demoRepo, number, c.SHA, demoAlice.Login)
	if err := gh.SetTarballFromGit(ctx, demoRepo, c.SHA, f.hist.Dir); err != nil {
		return githubtest.Payload{}, err
	}
	p, err := gh.Payloads().PullRequestMerged(demoRepo, number, c.SHA, demoAlice.Login, "main")
	if err != nil {
		return p, fmt.Errorf("building the merge webhook of #%d: %w", number, err)
	}
	return p, nil
}
