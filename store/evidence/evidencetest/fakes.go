package evidencetest

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// Directory is a hand-written GitHub teams directory.
type Directory struct {
	mu      sync.Mutex
	members map[string]map[string]bool // team slug → login → member
	left    map[string]bool            // logins that left the organisation
}

// TeamMembers implements bot.TeamMembers.
func (d *Directory) TeamMembers(_ context.Context, org, team string) ([]string, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for login, ok := range d.members[team] {
		if ok && org == "acme" {
			out = append(out, login)
		}
	}
	sort.Strings(out)
	return out, nil
}

// OrgMembers implements bot.OrgMembers.
func (d *Directory) OrgMembers(_ context.Context, org string) ([]bot.Member, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []bot.Member
	for _, p := range append(append([]bot.Identity{Gina, Mallory}, deployers...), approvers...) {
		if !d.left[p.Login] && org == "acme" {
			out = append(out, bot.Member{Login: p.Login, GitHubID: p.GitHubID})
		}
	}
	return out, nil
}

func newDirectory() *Directory {
	d := &Directory{members: map[string]map[string]bool{"deployers": {}, "approvers": {}, "oncall": {"gina": true},
		"admins": {"dave": true}, "access-reviewers": {"erin": true}}, left: map[string]bool{}}
	for _, p := range deployers {
		d.members["deployers"][p.Login] = true
	}
	for _, p := range approvers {
		d.members["approvers"][p.Login] = true
	}
	return d
}

// IsTeamMember implements bot.Directory.
func (d *Directory) IsTeamMember(_ context.Context, org, team string, who bot.Identity) (bool, error) {
	login := who.Login
	d.mu.Lock()
	defer d.mu.Unlock()
	return org == "acme" && d.members[team][login], nil
}

func (d *Directory) remove(team, login string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.members[team], login)
	d.left[login] = true
}

// approvers returns the current members of the approvers team.
func (d *Directory) approvers() []bot.Identity {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []bot.Identity
	for _, p := range approvers {
		if d.members["approvers"][p.Login] {
			out = append(out, p)
		}
	}
	return out
}

// Changes is a hand-written repository: merged commits on main, their
// PRs and checks.
type Changes struct {
	mu     sync.Mutex
	main   map[string]bool
	last   string
	prs    map[string]*bot.PullRequest
	checks map[string][]bot.CheckResult
}

func (c *Changes) merge(sha string, pr *bot.PullRequest, checks []bot.CheckResult) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.main[sha], c.last, c.prs[sha], c.checks[sha] = true, sha, pr, checks
}

func (c *Changes) head() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

// ResolveRef implements bot.Changes.
func (c *Changes) ResolveRef(_ context.Context, repo, ref string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ref == "main" && c.last != "" {
		return c.last, nil
	}
	if c.main[ref] {
		return ref, nil
	}
	return "", fmt.Errorf("ref %s in %s: %w", ref, repo, bot.ErrNotFound)
}

// BranchContains implements bot.Changes.
func (c *Changes) BranchContains(_ context.Context, _, branch, sha string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return branch == "main" && c.main[sha], nil
}

// PullRequestForCommit implements bot.Changes.
func (c *Changes) PullRequestForCommit(_ context.Context, _, sha string) (*bot.PullRequest, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.prs[sha], nil
}

// Checks implements bot.Changes.
func (c *Changes) Checks(_ context.Context, _, sha string) ([]bot.CheckResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checks[sha], nil
}

// Deployer records deploys; every 17th deploy fails its health check and
// is rolled back.
type Deployer struct {
	clock *Clock // a deploy takes a few minutes of fake time
	mu    sync.Mutex
	n     int
	Calls []string
	ran   []string // request ids deployed or rolled back, not yet attested
}

// took hands over the ids of the requests run since the last call.
func (d *Deployer) took() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := d.ran
	d.ran = nil
	return ids
}

// Deploy implements bot.Deployer.
func (d *Deployer) Deploy(_ context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.n++
	d.clock.Advance(3 * time.Minute)
	d.Calls = append(d.Calls, fmt.Sprintf("deploy %s %s %s", job.Repo, job.Environment, job.SHA[:7]))
	d.ran = append(d.ran, job.RequestID)
	out := outcome(job, "deploy")
	if d.n%17 == 0 {
		out.Result, out.Error = bot.ResultRolledBack, "health check failed: GET /healthz returned 503"
		out.Steps = append(out.Steps, bot.DeployStep{Server: "web1", Name: "health_check", Duration: 3 * time.Second, OK: false},
			bot.DeployStep{Server: "web1", Name: "switch_back", Duration: 40 * time.Millisecond, OK: true})
	}
	return out, nil
}

// Rollback implements bot.Deployer.
func (d *Deployer) Rollback(_ context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clock.Advance(2 * time.Minute)
	d.Calls = append(d.Calls, fmt.Sprintf("rollback %s %s %s", job.Repo, job.Environment, job.SHA[:7]))
	d.ran = append(d.ran, job.RequestID)
	return outcome(job, "rollback"), nil
}

func outcome(job bot.DeployJob, what string) bot.DeployOutcome {
	servers := []string{"web1." + job.Environment, "web2." + job.Environment}
	digest := sha256.Sum256([]byte(what + job.SHA))
	out := bot.DeployOutcome{Result: bot.ResultSucceeded, Release: "20250301T000000Z-" + job.SHA[:7],
		ManifestDigest: fmt.Sprintf("sha256:%x", digest), FilesSent: 12, BytesSent: 48213, Servers: servers,
		Duration: 9 * time.Second}
	for _, s := range servers {
		for _, step := range []string{"upload", "before_switch", "switch", "after_switch"} {
			out.Steps = append(out.Steps, bot.DeployStep{Server: s, Name: step, Duration: 500 * time.Millisecond, OK: true})
		}
	}
	return out
}
