package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

const (
	testOrg       = "acme"
	testRepo      = "acme/shop"
	testRequestID = "r-7f3k2q"
	testNonce     = "f00dfacecafebeef0123456789abcdef"
	testDeployLog = "[web-1] before_switch: bin/migrate\nmigrated 3 tables\n[web-2] health check: HTTP 200 in 41ms\n"
	testManifest  = "[manifest] release 20260105T101500Z-3f9c2a1, 2 entries, sha256:9d1c0ffee\n[manifest] f 0644 120 6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b index.html\n[manifest] f 0755 2048 d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f90da3a666eec13ab35 bin/migrate\n"
	testSHA       = "3f9c2a1d5e8b7c6a4f3e2d1c0b9a8f7e6d5c4b3a"
	auditorsTeam  = "compliance"
)

// testClock is a clock tests move forward.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is a real store with one finished production deploy in it, a
// bot.Service over it, a fake GitHub with the org, and the Handler served
// on an httptest server.
type harness struct {
	t        *testing.T
	gh       *githubtest.Server
	st       *store.Store
	svc      *bot.Service
	h        *Handler
	srv      *httptest.Server
	clock    *testClock
	clientID string
	secret   string
	verifier note.Verifier
	mon      *audit.Monitor
}

// monitor starts the background verification as serve does, quick to
// notice a new checkpoint, and stops it when the test ends.
func (hs *harness) monitor() *audit.Monitor {
	hs.mon = audit.NewMonitor(hs.st.DB(), func() (audit.Keyring, error) { return audit.Keyring{hs.verifier}, nil },
		audit.MonitorOptions{Poll: 5 * time.Millisecond, MinGap: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { hs.mon.Run(ctx); close(done) }()
	hs.t.Cleanup(func() { cancel(); <-done })
	return hs.mon
}

// waitVerified waits until a background verification that started after
// now has finished, and returns its status.
func (hs *harness) waitVerified(after time.Time) audit.VerifyStatus {
	hs.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st := hs.mon.Status(); st.Done && !st.Started.Before(after) {
			return st
		}
		time.Sleep(2 * time.Millisecond)
	}
	hs.t.Fatal("no background verification finished in 10 s")
	return audit.VerifyStatus{}
}

// failOnUse is the domain's outbound side: the pages are read-only, so any
// call is a test failure.
type failOnUse struct{ t *testing.T }

func (f failOnUse) IsTeamMember(context.Context, string, string, bot.Identity) (bool, error) {
	f.t.Error("a web page asked the Directory: pages must not make decisions")
	return false, errors.New("unexpected")
}
func (f failOnUse) ResolveRef(context.Context, string, string) (string, error) {
	f.t.Error("a web page resolved a ref")
	return "", errors.New("unexpected")
}
func (f failOnUse) BranchContains(context.Context, string, string, string) (bool, error) {
	f.t.Error("a web page asked BranchContains")
	return false, errors.New("unexpected")
}
func (f failOnUse) PullRequestForCommit(context.Context, string, string) (*bot.PullRequest, error) {
	f.t.Error("a web page asked PullRequestForCommit")
	return nil, errors.New("unexpected")
}
func (f failOnUse) Checks(context.Context, string, string) ([]bot.CheckResult, error) {
	f.t.Error("a web page asked Checks")
	return nil, errors.New("unexpected")
}
func (f failOnUse) Deploy(context.Context, bot.DeployJob) (bot.DeployOutcome, error) {
	f.t.Error("a web page started a deploy")
	return bot.DeployOutcome{}, errors.New("unexpected")
}
func (f failOnUse) Rollback(context.Context, bot.DeployJob) (bot.DeployOutcome, error) {
	f.t.Error("a web page started a rollback")
	return bot.DeployOutcome{}, errors.New("unexpected")
}

// newHarness builds everything; adjust may change the Config before New.
func newHarness(t *testing.T, adjust ...func(*Config)) *harness {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	vkey, err := audit.GenerateKeyFiles(filepath.Join(dir, "audit.key"), filepath.Join(dir, "audit.pub"), "test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := audit.LoadSigner(filepath.Join(dir, "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Now().UTC().Truncate(time.Second)}
	st, err := store.Open(ctx, filepath.Join(dir, "tollgate.db"), store.Options{Signer: signer, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	policies := testPolicies(clock.Now())
	svc, err := bot.New(bot.Config{Store: st, Directory: failOnUse{t}, Changes: failOnUse{t}, Deployer: failOnUse{t},
		Policies: bot.NewPolicySet(policies...), Clock: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	gh.AddOrgMember(testOrg, "alice", "member")
	gh.AddOrgMember(testOrg, "bob", "admin")
	gh.SetTeamMember(testOrg, auditorsTeam, "carol", "member")
	gh.AddUser("mallory") // a GitHub user outside the org
	gh.AddOrgMember("other-org", "mallory", "member")
	id, secret := gh.AppOAuthClient()

	hs := &harness{t: t, gh: gh, st: st, svc: svc, clock: clock, clientID: id, secret: secret, verifier: verifier}
	hs.seed(ctx)

	mux := http.NewServeMux()
	hs.srv = httptest.NewUnstartedServer(mux)
	hs.srv.Start()
	t.Cleanup(hs.srv.Close)
	cfg := Config{
		Requests:     svc,
		Audit:        st.Audit(),
		AuditEntries: func(ctx context.Context, id string) ([]audit.Entry, error) { return entriesAbout(ctx, st, id) },
		DeployLog: func(_ context.Context, id string) ([]byte, error) {
			if id == testRequestID {
				return []byte(testDeployLog + testManifest), nil
			}
			return nil, nil
		},
		Verification: hs.monitor(),
		Environments: func() []*bot.EnvironmentPolicy { return policies },
		OAuth: OAuth{WebURL: gh.URL() + "/", APIURL: gh.APIURL() + "/", ClientID: id, ClientSecret: secret,
			Org: testOrg, AuditorTeams: []string{auditorsTeam}, HTTPClient: gh.Client()},
		PublicURL: hs.srv.URL,
		Clock:     clock.Now,
	}
	for _, f := range adjust {
		f(&cfg)
	}
	hs.h, err = New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs.h.Register(mux)
	return hs
}

func testPolicies(now time.Time) []*bot.EnvironmentPolicy {
	team := func(s string) []bot.Team { return []bot.Team{{Org: testOrg, Slug: s}} }
	return []*bot.EnvironmentPolicy{
		{Repo: testRepo, Environment: "production", Production: true, Deployers: team("deployers"),
			Approvers: team("approvers"), RequiredApprovals: 1,
			FreezeWindows: []bot.FreezeWindow{{Name: "year-end", Start: now.Add(-time.Hour), End: now.Add(72 * time.Hour)}}},
		{Repo: testRepo, Environment: "staging", Deployers: team("deployers")},
	}
}

// seed stores a production deploy that went through policy, one
// approval, and ran on two servers; signs a checkpoint; then appends one
// more entry about it that no checkpoint covers yet. It also locks staging.
func (hs *harness) seed(ctx context.Context) {
	t := hs.t
	now := hs.clock.Now()
	req := bot.Request{ID: testRequestID, SourceKey: "slack:T1:trigger-1", Repo: testRepo, Environment: "production",
		Ref: "main", SHA: testSHA, Trigger: bot.TriggerSlack, Requester: bot.Identity{Login: "alice", GitHubID: 11},
		Reason: "release 1.4", Ticket: "OPS-12", State: bot.StateAwaitingApproval, ConfigHash: "cfg-1",
		RequiredApprovals: 1, ApprovalNonce: testNonce, ApprovalDeadline: now.Add(time.Hour),
		Decision: &bot.Decision{Allowed: true, ConfigHash: "cfg-1", At: now, Checks: []bot.PolicyCheck{
			{Name: bot.CheckDeployer, LookedUp: "acme/deployers", Outcome: bot.OutcomePass, Detail: "alice is in acme/deployers"},
			{Name: bot.CheckBranch, LookedUp: "main", Outcome: bot.OutcomePass, Detail: "3f9c2a1 is on main"},
			{Name: bot.CheckTicket, Outcome: bot.OutcomeSkipped, Detail: "no ticket pattern configured"},
		}},
		ExternalRefs: map[string]string{"slack_ts": "1700000000.000100"},
		CreatedAt:    now, UpdatedAt: now}
	created := []bot.AuditEvent{
		{Actor: "alice", Action: bot.ActionRequestCreated, Subject: req.ID, Data: map[string]any{"repo": testRepo, "sha": testSHA}},
		{Actor: "tollgate", Action: bot.ActionPolicyDecided, Subject: req.ID, Data: req.Decision},
	}
	if _, _, err := hs.st.CreateRequest(ctx, req, created); err != nil {
		t.Fatalf("seeding request: %v", err)
	}
	step := func(change func(r *bot.Request), ev bot.AuditEvent) {
		t.Helper()
		if _, err := hs.st.UpdateRequest(ctx, req.ID, func(r *bot.Request) ([]bot.AuditEvent, error) {
			change(r)
			return []bot.AuditEvent{ev}, nil
		}); err != nil {
			t.Fatalf("seeding %s: %v", ev.Action, err)
		}
	}
	step(func(r *bot.Request) {
		r.Approvals = append(r.Approvals, bot.Approval{Approver: bot.Identity{Login: "bob", GitHubID: 12},
			At: now.Add(2 * time.Minute), SHA: testSHA, ConfigHash: "cfg-1", ExpiresAt: now.Add(62 * time.Minute)})
		r.State, r.QueuedAt = bot.StateQueued, now.Add(2*time.Minute)
	}, bot.AuditEvent{Actor: "bob", Action: bot.ActionApprovalGranted, Subject: req.ID, Data: map[string]any{"sha": testSHA}})
	step(func(r *bot.Request) { r.State, r.StartedAt = bot.StateRunning, now.Add(3*time.Minute) },
		bot.AuditEvent{Actor: "tollgate", Action: bot.ActionDeployStarted, Subject: req.ID, Data: map[string]any{}})
	outcome := &bot.DeployOutcome{Result: bot.ResultSucceeded, Release: "20260105T101500Z-3f9c2a1",
		ManifestDigest: "sha256:9d1c0ffee", FilesSent: 2, BytesSent: 2168, Servers: []string{"web-1", "web-2"},
		Duration: 4200 * time.Millisecond, Steps: []bot.DeployStep{
			{Server: "web-2", Name: "upload", Duration: 900 * time.Millisecond, OK: true},
			{Server: "web-1", Name: "upload", Duration: 1200 * time.Millisecond, OK: true},
			{Server: "web-1", Name: "before_switch", Duration: 1500 * time.Millisecond, OK: true},
			{Server: "web-1", Name: "switch", Duration: 12 * time.Millisecond, OK: true},
			{Server: "web-2", Name: "switch", Duration: 11 * time.Millisecond, OK: true},
			{Server: "web-2", Name: "health_check", Duration: 41 * time.Millisecond, OK: true},
		}}
	step(func(r *bot.Request) {
		r.State, r.Result, r.FinishedAt = bot.StateSucceeded, outcome, now.Add(4*time.Minute)
	}, bot.AuditEvent{Actor: "tollgate", Action: bot.ActionDeployFinished, Subject: req.ID, Data: outcome})
	if _, err := hs.st.Audit().Checkpoint(ctx); err != nil {
		t.Fatalf("signing a checkpoint: %v", err)
	}
	if err := hs.st.AppendAudit(ctx, bot.AuditEvent{Actor: "tollgate", Action: bot.ActionRequestDuplicate,
		Subject: req.ID, Data: map[string]any{"source": "slack:T1:trigger-1"}}); err != nil {
		t.Fatal(err)
	}
	lock := bot.Lock{Repo: testRepo, Environment: "staging", Owner: bot.Identity{Login: "bob", GitHubID: 12},
		Reason: "load testing until noon", CreatedAt: now}
	if _, _, err := hs.st.AcquireLock(ctx, lock, now, bot.AuditEvent{Actor: "bob", Action: bot.ActionLockAcquired,
		Subject: testRepo + " staging", Data: map[string]any{"reason": lock.Reason}}); err != nil {
		t.Fatal(err)
	}
}

// entriesAbout is what the server's wiring does: the entries whose
// subject is the request id.
func entriesAbout(ctx context.Context, st *store.Store, id string) ([]audit.Entry, error) {
	rows, err := st.DB().QueryContext(ctx, `SELECT seq FROM audit_entries WHERE subject = ? ORDER BY seq`, id)
	if err != nil {
		return nil, err
	}
	var seqs []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return nil, err
		}
		seqs = append(seqs, s)
	}
	rows.Close()
	var out []audit.Entry
	for _, s := range seqs {
		e, err := st.Audit().Get(ctx, s)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// browser is an HTTP client with a cookie jar, like a person's browser.
type browser struct {
	t      *testing.T
	c      *http.Client
	follow bool
}

func (hs *harness) browser(follow bool) *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		hs.t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	if !follow {
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return &browser{t: hs.t, c: c, follow: follow}
}

// in returns the browser reporting to t (a subtest).
func (b *browser) in(t *testing.T) *browser {
	c := *b
	c.t = t
	return &c
}

// get fetches url and returns the response with its body read.
func (b *browser) get(url string) (*http.Response, string) {
	b.t.Helper()
	return b.do(http.MethodGet, url, nil)
}

func (b *browser) do(method, url string, header http.Header) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return resp, string(body)
}

// signIn logs login in through the fake GitHub and returns the browser.
func (hs *harness) signIn(login string) *browser {
	hs.t.Helper()
	hs.gh.AuthorizeAs(login)
	b := hs.browser(true)
	resp, body := b.get(hs.srv.URL + "/login?next=/environments")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/environments" {
		hs.t.Fatalf("signing in as %s ended at %s with %d: %s", login, resp.Request.URL, resp.StatusCode, body)
	}
	return b
}

func mustContain(t *testing.T, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func mustNotContain(t *testing.T, body string, bad ...string) {
	t.Helper()
	for _, w := range bad {
		if w != "" && strings.Contains(body, w) {
			t.Errorf("page shows %q, which it must not", w)
		}
	}
}
