package slack_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"

	ghint "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	tgslack "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/internal/inbox"
	"github.com/tollgate-dev/tollgate/store"
)

const (
	signingSecret = "test-signing-secret"
	repo          = "acme/shop"
	channel       = "C0DEPLOYS"
	publicURL     = "https://tollgate.example"
	waitLimit     = 15 * time.Second
)

// Slack users of the test workspace and the GitHub logins they link to.
var people = map[string]string{
	"U0ALICE": "alice", // deployer, the requester
	"U0BOB":   "bob",   // approver
	"U0CAROL": "carol", // deployer and approver, author of the PR
	"U0DAVE":  "dave",  // approver, reviewed the PR
	"U0ERIN":  "erin",  // never links
}

// sha makes a 40-hex-digit SHA from a label.
func sha(label string) string {
	sum := sha256.Sum256([]byte(label))
	return hex.EncodeToString(sum[:20])
}

var (
	mergeSHA = sha("merge of PR 1")
	startAt  = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
)

// clock is the domain's clock, stepped by tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// recordingDeployer records the jobs it was given and reports success.
type recordingDeployer struct {
	mu   sync.Mutex
	jobs []bot.DeployJob
}

func (d *recordingDeployer) Deploy(_ context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.jobs = append(d.jobs, job)
	return bot.DeployOutcome{Result: bot.ResultSucceeded, Release: "20250304100000-" + job.SHA[:7],
		Servers: []string{"web1"}, Duration: 42 * time.Second}, nil
}

func (d *recordingDeployer) Rollback(ctx context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	return d.Deploy(ctx, job)
}

func (d *recordingDeployer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.jobs)
}

// testLog writes log lines into the test's output.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) { l.t.Log(string(p)); return len(p), nil }

// world is Tollgate's Slack side wired to a fake GitHub, a fake Slack, a
// real SQLite store and the real bot.Service, served on a real HTTP server.
type world struct {
	t        *testing.T
	gh       *githubtest.Server
	sl       *slacktest.Server
	st       *store.Store
	svc      *bot.Service
	dir      *ghint.Directory
	h        *tgslack.Handler
	srv      *httptest.Server
	clock    *clock
	deployer *recordingDeployer
	skew     atomic.Int64 // added to real time on the handler's clock
}

// policyOption changes the production and staging policies of a world
// before anything runs.
type policyOption func(production, staging *bot.EnvironmentPolicy)

// lateReviews reads emergency reviews from the world's service, built
// after the notifier (as in the server).
type lateReviews struct{ w *world }

func (l lateReviews) EmergencyReview(ctx context.Context, id string) (bot.EmergencyReview, bool, error) {
	return l.w.svc.EmergencyReview(ctx, id)
}

func newWorld(t *testing.T, opts ...policyOption) *world {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w := &world{t: t, clock: &clock{t: startAt}, deployer: &recordingDeployer{}}

	w.gh = githubtest.New()
	t.Cleanup(w.gh.Close)
	w.gh.AddInstallation("acme")
	w.gh.AddRepo(repo)
	w.gh.AddCommit(repo, "main", sha("base"))
	for _, login := range []string{"alice", "carol"} {
		w.gh.SetTeamMember("acme", "deployers", login, "member")
	}
	for _, login := range []string{"bob", "carol", "dave"} {
		w.gh.SetTeamMember("acme", "approvers", login, "member")
	}
	w.gh.SetTeamMember("acme", "responders", "alice", "member")      // the emergency path
	w.gh.SetTeamMember("acme", "access-reviewers", "dave", "member") // signs off access reviews
	w.gh.SetTeamMember("acme", "admins", "dave", "member")           // revokes security keys
	w.gh.AddUser("erin")
	pr := w.gh.AddPullRequest(repo, githubtest.PullRequest{Title: "New checkout", Author: "carol", HeadSHA: sha("feature")})
	w.gh.SetCollaborator(repo, "dave", "write") // only reviews by people with write access count
	w.gh.AddReview(repo, pr, githubtest.Review{User: "dave", State: "APPROVED"})
	w.gh.MergePullRequest(repo, pr, mergeSHA, "dave")
	w.gh.SetCheckRun(repo, mergeSHA, "ci", "completed", "success")

	w.sl = slacktest.New(slacktest.Options{})
	t.Cleanup(w.sl.Close)
	w.sl.AddChannel(channel, "deploys")
	for id, login := range people {
		w.sl.AddUser(id, login)
	}

	var err error
	w.st, err = store.Open(ctx, filepath.Join(t.TempDir(), "tollgate.db"), store.Options{InboxLease: time.Minute})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	app, err := ghint.NewApp(ctx, ghint.AppConfig{APIURL: w.gh.APIURL(), AppID: w.gh.AppID(), PrivateKey: w.gh.AppPrivateKeyPEM()})
	if err != nil {
		t.Fatalf("NewApp: %v", err)
	}
	w.dir = ghint.NewDirectory(app, time.Minute)
	roster := ghint.NewRoster(app)
	notifier, err := tgslack.NewNotifier(tgslack.NotifierConfig{Slack: w.sl.Client(), Channel: channel,
		PublicURL: publicURL, GitHubWebURL: "https://github.com/", Clock: w.clock.Now, Members: roster, Links: w.st,
		Reviews: lateReviews{w}})
	if err != nil {
		t.Fatal(err)
	}
	teams := func(slug string) []bot.Team { return []bot.Team{{Org: "acme", Slug: slug}} }
	production := &bot.EnvironmentPolicy{Repo: repo, Environment: "production", Deployers: teams("deployers"),
		Approvers: teams("approvers"), Emergency: teams("responders"), RequiredApprovals: 1, ApprovalTTL: 30 * time.Minute,
		Branches: []string{"main"}, RequirePRReview: true, RequireChecks: true, Production: true}
	staging := &bot.EnvironmentPolicy{Repo: repo, Environment: "staging", Deployers: teams("deployers"),
		Approvers: teams("approvers"), Branches: []string{"main"}}
	for _, o := range opts {
		o(production, staging)
	}
	policies := bot.NewPolicySet(production, staging)
	w.svc, err = bot.New(bot.Config{Store: w.st, Directory: w.dir, Changes: ghint.NewChanges(app),
		Deployer: w.deployer, Notifier: notifier, Policies: policies, Clock: w.clock.Now, Logger: logger,
		Admins: func() []bot.Team { return teams("admins") }})
	if err != nil {
		t.Fatal(err)
	}
	notifier.Bind(w.svc)

	mux := http.NewServeMux()
	w.srv = httptest.NewServer(mux)
	t.Cleanup(w.srv.Close)
	clientID, clientSecret := w.gh.AppOAuthClient()
	accessReviews := func() (*bot.AccessReviews, error) {
		return w.svc.AccessReviews(bot.AccessReviewConfig{Org: "acme", Environments: []*bot.EnvironmentPolicy{production, staging},
			Reviewers: teams("access-reviewers"), Teams: roster, Members: roster})
	}
	w.h, err = tgslack.New(tgslack.Config{SigningSecret: signingSecret, Service: w.svc, Store: w.st,
		AccessReviews: accessReviews, Policies: policies, MFA: w.st,
		Routing: channelRoutes{policies: policies, channels: map[string]string{channel: repo}}, Slack: w.sl.Client(),
		ResponseURLBase: w.sl.ResponseURLBase(),
		Logger:          logger,
		Clock:           func() time.Time { return time.Now().Add(time.Duration(w.skew.Load())) },
		PublicURL:       w.srv.URL, GitHub: tgslack.GitHubOAuth{WebURL: w.gh.URL(), APIURL: w.gh.APIURL(),
			ClientID: clientID, ClientSecret: clientSecret},
		SignIn: tgslack.SlackSignIn{WebURL: w.sl.WebURL(), APIURL: w.sl.APIURL(), ClientID: w.sl.ClientID(),
			ClientSecret: w.sl.ClientSecret()}})
	if err != nil {
		t.Fatal(err)
	}
	w.h.Register(mux)

	worker := &inbox.Worker{Store: w.st, Handle: inbox.BySource(map[string]inbox.Handler{"slack": w.h.HandleInboxItem}),
		PollInterval: 20 * time.Millisecond, Backoff: func(int) time.Duration { return 50 * time.Millisecond }, Logger: logger}
	var wg sync.WaitGroup
	wg.Go(func() { _ = worker.Run(ctx) })
	wg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-w.h.Enqueued():
				worker.Kick()
			}
		}
	})
	wg.Go(func() { w.svc.RunWorkers(ctx, ctx, 1, 20*time.Millisecond) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		w.h.Wait()
		w.st.Close()
	})
	return w
}

// linkAll links every test user but erin, as if each had completed the
// linking sign-ins. The links are stored directly, not through
// Service.LinkIdentity, so the tests start with no link announcements in
// the channel (link_test.go covers those).
func (w *world) linkAll() {
	w.t.Helper()
	for id, login := range people {
		if login == "erin" {
			continue
		}
		l := bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: slacktest.DefaultTeamID, User: id},
			GitHubLogin: login, GitHubID: w.gh.UserID(login), LinkedAt: time.Now().UTC()}
		ev := bot.AuditEvent{Actor: login, Action: bot.ActionIdentityLinked, Subject: l.Chat.String(),
			Data: map[string]any{"github_login": login, "github_id": l.GitHubID}}
		if err := w.st.SaveLink(context.Background(), l, ev); err != nil {
			w.t.Fatalf("linking %s: %v", login, err)
		}
	}
}

// answer is how Tollgate answered one request from Slack.
type answer struct {
	status int
	body   string
	took   time.Duration
}

func read(t *testing.T, resp *http.Response, err error, began time.Time) answer {
	t.Helper()
	if err != nil {
		t.Fatalf("sending to Tollgate: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(b), took: time.Since(began)}
}

// command sends /deploy text as user in the deploys channel.
func (w *world) command(user, text string, opts ...slacktest.SendOption) answer {
	w.t.Helper()
	p := slacktest.SlashCommandParams{UserID: user, UserName: people[user], ChannelID: channel, Text: text,
		ResponseURL: w.sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: channel, User: user})}
	began := time.Now()
	resp, err := slacktest.SlashCommand(context.Background(), w.srv.URL+tgslack.PathCommands, signingSecret, p, opts...)
	return read(w.t, resp, err, began)
}

// clickParams is a click by user on a button of the message at ts.
func (w *world) clickParams(user, actionID, ts, value string) slacktest.BlockActionParams {
	return slacktest.BlockActionParams{UserID: user, UserName: people[user], ChannelID: channel, MessageTS: ts,
		Message: w.sl.MessagePayload(channel, ts), ActionID: actionID, BlockID: "tollgate_actions", Value: value,
		ResponseURL: w.sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: channel, User: user, MessageTS: ts})}
}

func (w *world) sendClick(p slacktest.BlockActionParams, opts ...slacktest.SendOption) answer {
	w.t.Helper()
	began := time.Now()
	resp, err := slacktest.BlockAction(context.Background(), w.srv.URL+tgslack.PathInteractions, signingSecret, p, opts...)
	return read(w.t, resp, err, began)
}

// eventually polls cond until it holds or the wait limit passes.
func (w *world) eventually(what string, cond func() bool) {
	w.t.Helper()
	deadline := time.Now().Add(waitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			for _, e := range w.sl.Ephemerals("U0ALICE") {
				w.t.Logf("alice was told: %s", e.Text)
			}
			w.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// approvalMessage waits for the request's message in the channel.
func (w *world) approvalMessage() slacktest.Message {
	w.t.Helper()
	var msg slacktest.Message
	w.eventually("the approval message", func() bool {
		ms := w.sl.Messages(channel)
		if len(ms) == 0 {
			return false
		}
		msg = ms[0]
		return true
	})
	return msg
}

// ephemeral waits for the n-th (1-based) ephemeral message shown to user.
func (w *world) ephemeral(user string, n int) string {
	w.t.Helper()
	var text string
	w.eventually("ephemeral message "+itoa(n)+" to "+people[user], func() bool {
		es := w.sl.Ephemerals(user)
		if len(es) < n {
			return false
		}
		text = es[n-1].Text
		return true
	})
	return text
}

func itoa(n int) string { return strconv.Itoa(n) }

// onlyRequest returns the single request on production.
func (w *world) onlyRequest() bot.Request {
	w.t.Helper()
	rs, err := w.svc.History(context.Background(), repo, "production", 10)
	if err != nil {
		w.t.Fatal(err)
	}
	if len(rs) != 1 {
		w.t.Fatalf("got %d requests on production, want 1", len(rs))
	}
	return rs[0]
}

// auditCount counts audit entries with action whose data contains fragment.
func (w *world) auditCount(action, fragment string) int {
	w.t.Helper()
	var n int
	err := w.st.DB().QueryRow(`SELECT count(*) FROM audit_entries WHERE action = ? AND instr(data, ?) > 0`,
		action, fragment).Scan(&n)
	if err != nil {
		w.t.Fatal(err)
	}
	return n
}

// inboxSize counts everything persisted in the inbox.
func (w *world) inboxSize() int {
	w.t.Helper()
	var n int
	if err := w.st.DB().QueryRow(`SELECT count(*) FROM inbox`).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

// channelRoutes is the Slack transport's Routing as the server answers it:
// channels from the slack settings, repositories and environments from the
// policies in force.
type channelRoutes struct {
	policies bot.PolicySet
	channels map[string]string
}

func (r channelRoutes) RepoForChannel(id string) (string, bool) {
	repo, ok := r.channels[id]
	return repo, ok
}

func (r channelRoutes) Environments(repo string) []string { return r.policies.Environments(repo) }

func (r channelRoutes) Repositories() []string {
	var out []string
	for repo := range r.policies {
		out = append(out, repo)
	}
	slices.Sort(out)
	return out
}
