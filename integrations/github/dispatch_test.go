package github_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gogh "github.com/google/go-github/v60/github"

	"github.com/tollgate-dev/tollgate/bot"
	tgh "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/internal/inbox"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

const (
	hookSecret = "webhook-secret-for-tests"
	hookRepo   = "acme/shop"
)

// hookSHA makes a readable 40-hex SHA: hookSHA('a') = "aaaa…".
func hookSHA(c byte) string { return strings.Repeat(string(c), 40) }

// hookWorld is Tollgate's GitHub intake wired for real: the fake GitHub,
// a signed webhook endpoint, a temp SQLite store, the inbox worker, the
// dispatcher and the real bot.Service with a recording deployer.
type hookWorld struct {
	gh       *githubtest.Server
	inst     int64
	api      *gogh.Client // installation-token client, for setting up state as the app
	dbPath   string
	store    *store.Store
	svc      *bot.Service
	dir      *tgh.Directory
	roster   *tgh.Roster
	changes  *tgh.Changes
	deployer *recordingDeployer
	appID    int64
	worker   *inbox.Worker
	endpoint *httptest.Server
	logs     *lockedBuffer
	// now, when set before start, is the clock of the store and the
	// inbox worker (leases, retries).
	now func() time.Time
}

// recordingDeployer records deploys as "deploy repo env sha7 trigger".
type recordingDeployer struct {
	mu    sync.Mutex
	calls []string
}

func (d *recordingDeployer) Deploy(_ context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	return d.record("deploy", job)
}

func (d *recordingDeployer) Rollback(_ context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	return d.record("rollback", job)
}

func (d *recordingDeployer) record(what string, job bot.DeployJob) (bot.DeployOutcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, fmt.Sprintf("%s %s %s %s %s", what, job.Repo, job.Environment, job.SHA[:7], job.Trigger))
	return bot.DeployOutcome{Result: bot.ResultSucceeded, Release: "rel-" + job.SHA[:7], Servers: []string{"web1"}}, nil
}

func (d *recordingDeployer) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls)
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// newHookWorld sets up org acme with teams deployers (alice, bob, carol)
// and approvers (carol, dave), repository acme/shop with main at 'a', and
// environments staging (merges to main, no approval), production (one
// approval, label deploy:production), preview (label deploy:preview,
// any branch) and regulated (two approvals).
func newHookWorld(t *testing.T) *hookWorld {
	t.Helper()
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	w := &hookWorld{gh: gh, inst: gh.AddInstallation("acme"), dbPath: filepath.Join(t.TempDir(), "tollgate.db"),
		deployer: &recordingDeployer{}, logs: &lockedBuffer{}}
	gh.AddRepo(hookRepo)
	gh.AddCommit(hookRepo, "main", hookSHA('a'))
	for _, m := range []struct{ team, login string }{
		{"deployers", "alice"}, {"deployers", "bob"}, {"deployers", "carol"},
		{"approvers", "carol"}, {"approvers", "dave"},
	} {
		gh.SetTeamMember("acme", m.team, m.login, "")
	}
	gh.AddUser("erin") // in the org's world, in no team
	tok, err := gh.InstallationToken(w.inst)
	if err != nil {
		t.Fatal(err)
	}
	if w.api, err = gogh.NewClient(nil).WithAuthToken(tok).WithEnterpriseURLs(gh.URL(), gh.URL()); err != nil {
		t.Fatal(err)
	}
	app, err := tgh.NewApp(context.Background(), tgh.AppConfig{APIURL: gh.APIURL(), AppID: gh.AppID(), PrivateKey: gh.AppPrivateKeyPEM()})
	if err != nil {
		t.Fatalf("NewApp: %v", err)
	}
	w.dir = tgh.NewDirectory(app, 0)
	w.roster = tgh.NewRoster(app)
	w.changes = tgh.NewChanges(app)
	w.appID = gh.AppID()
	w.start(t)
	return w
}

// start opens the store on dbPath and builds the service, dispatcher,
// worker and endpoint on it; a second call after stop is a restart.
func (w *hookWorld) start(t *testing.T) {
	t.Helper()
	st, err := store.Open(context.Background(), w.dbPath, store.Options{Now: w.now})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	w.store = st
	t.Cleanup(func() { st.Close() })
	deployers := []bot.Team{{Org: "acme", Slug: "deployers"}}
	approvers := []bot.Team{{Org: "acme", Slug: "approvers"}}
	envs := []*bot.EnvironmentPolicy{
		{Repo: hookRepo, Environment: "staging", Deployers: deployers, Approvers: approvers, Branches: []string{"main"},
			OnMergeTo: []string{"main"}},
		{Repo: hookRepo, Environment: "production", Deployers: deployers, Approvers: approvers,
			Branches: []string{"main"}, RequiredApprovals: 1, Production: true, Labels: []string{"deploy:production"}},
		{Repo: hookRepo, Environment: "preview", Deployers: deployers, Approvers: approvers,
			Labels: []string{"deploy:preview"}},
		{Repo: hookRepo, Environment: "regulated", Deployers: deployers, Approvers: approvers,
			Branches: []string{"main"}, RequiredApprovals: 2},
	}
	policies := bot.NewPolicySet(envs...)
	logger := slog.New(slog.NewJSONHandler(w.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w.svc, err = bot.New(bot.Config{Store: st, Directory: w.dir, Changes: w.changes,
		Deployer: w.deployer, Policies: policies, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	d, err := tgh.NewDispatcher(tgh.DispatcherConfig{Bot: w.svc, AppID: w.appID, Reactor: &forgeComments{api: w.api},
		Replier: &forgeComments{api: w.api}, Members: w.dir, Audit: st, Logger: logger, Standing: w.roster,
		Access: func() (tgh.AccessChanges, error) {
			return w.svc.AccessReviews(bot.AccessReviewConfig{Org: "acme", Environments: envs,
				Teams: w.roster, Members: w.roster, Member: w.roster})
		}})
	if err != nil {
		t.Fatal(err)
	}
	w.worker = &inbox.Worker{Store: st, Handle: inbox.BySource(map[string]inbox.Handler{"github": d.Handle}),
		MaxAttempts: 3, Logger: logger, Clock: w.now}
	h, err := tgh.NewWebhookHandler(tgh.WebhookConfig{Secret: hookSecret, Inbox: st, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	w.endpoint = httptest.NewServer(h)
	t.Cleanup(w.endpoint.Close)
}

// stop closes the endpoint and the store, as a process exit would.
func (w *hookWorld) stop(t *testing.T) {
	t.Helper()
	w.endpoint.Close()
	if err := w.store.Close(); err != nil {
		t.Fatal(err)
	}
}

// send delivers p signed like GitHub and returns the status code and delivery id.
func (w *hookWorld) send(t *testing.T, p githubtest.Payload, deliveryID string) int {
	t.Helper()
	body, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if deliveryID == "" {
		deliveryID = githubtest.NewDeliveryID()
	}
	resp, err := w.gh.SendWebhookDelivery(context.Background(), w.endpoint.URL, hookSecret, p.Event, deliveryID, body)
	if err != nil {
		t.Fatalf("send %s: %v", p.Event, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// deliver sends p, expects 202, and runs the inbox worker until idle.
func (w *hookWorld) deliver(t *testing.T, p githubtest.Payload, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("build payload: %v", err)
	}
	if code := w.send(t, p, ""); code != http.StatusAccepted {
		t.Fatalf("%s delivery answered %d, want 202", p.Event, code)
	}
	w.drain(t)
}

// drain processes the inbox until nothing is due.
func (w *hookWorld) drain(t *testing.T) {
	t.Helper()
	for range 100 {
		n, err := w.worker.ProcessDue(context.Background())
		if err != nil {
			t.Fatalf("ProcessDue: %v", err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("inbox never drained")
}

// requests returns every request, oldest first.
func (w *hookWorld) requests(t *testing.T) []bot.Request {
	t.Helper()
	rs, err := w.store.ListRequests(context.Background(), bot.RequestFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(rs)
	return rs
}

// only returns the one request there is.
func (w *hookWorld) only(t *testing.T) bot.Request {
	t.Helper()
	rs := w.requests(t)
	if len(rs) != 1 {
		t.Fatalf("want exactly one request, have %d: %+v", len(rs), rs)
	}
	return rs[0]
}

// inboxStates counts inbox items by state.
func (w *hookWorld) inboxStates(t *testing.T) map[string]int {
	t.Helper()
	rows, err := w.store.DB().Query(`SELECT state, count(*) FROM inbox GROUP BY state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

// auditData returns the data of the audit entries with action on subject.
func (w *hookWorld) auditData(t *testing.T, subject, action string) []string {
	t.Helper()
	return audittest.DataOf(t, w.store.DB(), subject, action)
}

func (w *hookWorld) identity(login string) bot.Identity {
	return bot.Identity{Login: login, GitHubID: w.gh.UserID(login)}
}

// forgeComments reacts and replies through go-github, as the app.
type forgeComments struct{ api *gogh.Client }

func (c *forgeComments) ReactEyes(ctx context.Context, repo string, commentID int64) error {
	owner, name, _ := strings.Cut(repo, "/")
	_, _, err := c.api.Reactions.CreateIssueCommentReaction(ctx, owner, name, commentID, "eyes")
	return err
}

func (c *forgeComments) ReplyToComment(ctx context.Context, repo string, number int, body string) error {
	owner, name, _ := strings.Cut(repo, "/")
	_, _, err := c.api.Issues.CreateComment(ctx, owner, name, number, &gogh.IssueComment{Body: &body})
	return err
}
