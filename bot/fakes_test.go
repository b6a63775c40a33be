package bot_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// directory is a hand-written GitHub teams directory that records lookups.
type directory struct {
	mu      sync.Mutex
	members map[string]map[string]bool // "org/team" → login → member
	calls   []string
}

func (d *directory) IsTeamMember(_ context.Context, org, team string, who bot.Identity) (bool, error) {
	login := who.Login
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, fmt.Sprintf("member %s/%s %s", org, team, login))
	return d.members[org+"/"+team][login], nil
}

func (d *directory) set(team, login string, member bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.members[team] == nil {
		d.members[team] = map[string]bool{}
	}
	d.members[team][login] = member
}

// changes is a hand-written repository: refs, branch contents, PRs, checks.
type changes struct {
	mu       sync.Mutex
	refs     map[string]string          // ref → sha
	branches map[string]map[string]bool // branch → sha → on it
	prs      map[string]*bot.PullRequest
	checks   map[string][]bot.CheckResult
}

func (c *changes) ResolveRef(_ context.Context, repo, ref string) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sha, ok := c.refs[ref]; ok {
		return sha, nil
	}
	if len(ref) == 40 {
		return ref, nil
	}
	return "", fmt.Errorf("ref %s in %s: %w", ref, repo, bot.ErrNotFound)
}

func (c *changes) BranchContains(_ context.Context, _, branch, sha string) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.branches[branch][sha], nil
}

func (c *changes) PullRequestForCommit(_ context.Context, _, sha string) (*bot.PullRequest, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.prs[sha], nil
}

func (c *changes) Checks(_ context.Context, _, sha string) ([]bot.CheckResult, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checks[sha], nil
}

func (c *changes) push(ref, sha string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.refs[ref] = sha
	c.branches[ref][sha] = true
	c.checks[sha] = []bot.CheckResult{{Name: "ci/test", State: bot.CheckSuccess}}
}

// deployer records deploys as "deploy repo env sha7"; hold, when set,
// blocks each deploy until a value arrives, and running counts deploys in
// flight per environment so tests can see overlap.
type deployer struct {
	mu      sync.Mutex
	calls   []string
	outcome bot.DeployOutcome
	err     error
	hold    chan struct{}
	started chan string
	running map[string]int
	maxRun  map[string]int
}

func (d *deployer) Deploy(ctx context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	return d.do(ctx, "deploy", job)
}

func (d *deployer) Rollback(ctx context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	return d.do(ctx, "rollback", job)
}

func (d *deployer) do(ctx context.Context, what string, job bot.DeployJob) (bot.DeployOutcome, error) {
	env := job.Repo + " " + job.Environment
	d.mu.Lock()
	d.calls = append(d.calls, fmt.Sprintf("%s %s %s %s", what, job.Repo, job.Environment, job.SHA[:7]))
	d.running[env]++
	d.maxRun[env] = max(d.maxRun[env], d.running[env])
	out, err, hold, started := d.outcome, d.err, d.hold, d.started
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.running[env]--
		d.mu.Unlock()
	}()
	if started != nil {
		started <- job.RequestID
	}
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return bot.DeployOutcome{}, ctx.Err()
		}
	}
	if out.Result == "" && err == nil {
		out = bot.DeployOutcome{Result: bot.ResultSucceeded, Release: "rel-" + job.SHA[:7],
			ManifestDigest: "sha256:abc", FilesSent: 3, Servers: []string{"web1", "web2"}}
	}
	return out, err
}

func (d *deployer) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

// notifier records notifications as "kind id state".
type notifier struct {
	mu    sync.Mutex
	calls []string
	fail  bool
}

func (n *notifier) Notify(_ context.Context, x bot.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.calls = append(n.calls, fmt.Sprintf("%s %s %s", x.Kind, x.Request.ID, x.Request.State))
	if n.fail {
		return fmt.Errorf("slack is down")
	}
	return nil
}

func (n *notifier) Calls() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.calls...)
}

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// world is a Service on a real SQLite store with recording fakes around it.
type world struct {
	svc      *bot.Service
	store    *store.Store
	dir      *directory
	changes  *changes
	deployer *deployer
	notes    *notifier
	clock    *clock
	policies bot.PolicySet
}

func newWorld(t *testing.T) *world {
	t.Helper()
	clk := &clock{now: t0}
	st, err := store.Open(context.Background(), storetest.Location(t), store.Options{Now: clk.Now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	w := &world{
		store: st, clock: clk,
		dir: &directory{members: map[string]map[string]bool{
			"acme/deployers": {"alice": true, "bob": true, "carol": true},
			"acme/approvers": {"carol": true, "dave": true, "bob": true, "alice": true},
			"acme/oncall":    {"erin": true},
			"acme/admins":    {"dave": true},
		}},
		changes: &changes{
			refs:     map[string]string{"main": shaMain},
			branches: map[string]map[string]bool{"main": {shaMain: true}},
			prs:      map[string]*bot.PullRequest{shaMain: reviewedPR()},
			checks:   map[string][]bot.CheckResult{shaMain: {{Name: "ci/test", State: bot.CheckSuccess}}},
		},
		deployer: &deployer{running: map[string]int{}, maxRun: map[string]int{}},
		notes:    &notifier{},
	}
	prod := prodPolicy()
	prod.Admins = []bot.Team{{Org: "acme", Slug: "admins"}}
	staging := &bot.EnvironmentPolicy{Repo: "acme/shop", Environment: "staging",
		Deployers: []bot.Team{deployers}, Approvers: []bot.Team{approvers}, Branches: []string{"main"}}
	w.policies = bot.NewPolicySet(prod, staging)
	w.svc = w.newService(t)
	return w
}

func (w *world) newService(t *testing.T) *bot.Service {
	t.Helper()
	svc, err := bot.New(bot.Config{Store: w.store, Directory: w.dir, Changes: w.changes, Deployer: w.deployer,
		Notifier: w.notes, Policies: w.policies, Clock: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// auditActions lists the audit log's actions on subject, in order.
func (w *world) auditActions(t *testing.T, subject string) []string {
	t.Helper()
	rows, err := w.store.DB().Query(`SELECT action FROM audit_entries WHERE subject = ? ORDER BY seq`, subject)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// auditData returns the data of the entries with action on subject.
func (w *world) auditData(t *testing.T, subject, action string) []string {
	t.Helper()
	return audittest.DataOf(t, w.store.DB(), subject, action)
}

func (w *world) submit(t *testing.T, key string, in bot.NewRequest) bot.Outcome {
	t.Helper()
	in.SourceKey = key
	if in.Repo == "" {
		in.Repo = "acme/shop"
	}
	if in.Environment == "" {
		in.Environment = "production"
	}
	if in.Trigger == "" {
		in.Trigger = bot.TriggerSlack
	}
	if in.Requester.Login == "" {
		in.Requester = alice
	}
	if in.Ref == "" && in.SHA == "" {
		in.Ref = "main"
	}
	out, err := w.svc.Submit(context.Background(), in)
	if err != nil {
		t.Fatalf("submit %s: %v", key, err)
	}
	return out
}

func joined(ss []string) string { return strings.Join(ss, "\n") }

// proved adds to l the two proofs a link needs, as the linking sign-ins
// record them.
func proved(l bot.Link) bot.Link {
	l.Proofs = []bot.IdentityProof{
		{Side: bot.ProofChat, Method: "slack_openid_connect", Account: l.Chat.Workspace + "/" + l.Chat.User, Subject: l.Chat.User, At: t0},
		{Side: bot.ProofGitHub, Method: "github_oauth_pkce", Account: l.GitHubLogin, At: t0},
	}
	return l
}
