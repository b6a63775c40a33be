package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/tollgate-dev/tollgate/server"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/deploy/sshdtest"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

const (
	e2eRepo    = "acme/shop"
	e2eSecret  = "e2e-webhook-secret-value"
	e2ePublic  = "https://tollgate.e2e.example"
	e2eEnvURL  = "https://staging.shop.example.com"
	e2eTimeout = 2 * time.Minute
)

func sha(c byte) string { return strings.Repeat(string(c), 40) }

// e2eOptions vary the served configuration.
type e2eOptions struct {
	beforeSwitch string        // a before_switch hook; "" for none
	grace        time.Duration // shutdown grace; 0 means a minute
	webLogin     bool          // configure the fake GitHub's OAuth client, so the web pages are served
	healthCheck  string        // staging's health-check command; "" for ./bin/health
	noAttest     bool          // leave attestation.signing_key_file out (attest.key, attest.pub otherwise)
	secondServer bool          // staging gets a second sshd, with its own deploy path (root2)
}

// e2e is a whole Tollgate: `serve` in-process on a real listener, with
// the fake GitHub, a real sshd as staging's only server and SQLite in a
// temp dir.
type e2e struct {
	gh         *githubtest.Server
	dir        string
	configPath string
	dbPath     string
	root       string // staging's deploy path on the sshd
	root2      string // with secondServer: the second server's deploy path
	sshd2Port  int
	verifier   note.Verifier
	opts       e2eOptions
	listen     string       // the config's listen address
	public     string       // public_url; e2ePublic when empty
	ln         net.Listener // serve on this listener when set (its address is in public)
	sshdPort   int
	sshdUser   string

	addr string
	// pick, when set, names the address each request goes to: a random
	// replica of several serving one database (ha_world_test.go).
	pick   func() string
	cancel context.CancelFunc
	done   chan int
	reload chan struct{}
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newE2E sets up the world: org acme whose team deployers has alice,
// repository acme/shop with main at a, PR #4 by bob (head b) merged by
// alice as c, whose tarball holds a small site; and a config whose staging
// deploys merges to main over SSH.
func newE2E(t *testing.T, opts e2eOptions) *e2e {
	t.Helper()
	e := &e2e{gh: githubtest.New(), dir: t.TempDir(), opts: opts, stderr: &syncBuffer{}, reload: make(chan struct{}, 1)}
	t.Cleanup(e.gh.Close)
	e.gh.AddInstallation("acme")
	e.gh.AddRepo(e2eRepo)
	e.gh.AddCommit(e2eRepo, "main", sha('a'))
	e.gh.SetTeamMember("acme", "deployers", "alice", "")
	e.gh.SetTeamMember("acme", "approvers", "carol", "")
	e.gh.AddUser("bob")
	e.gh.AddPullRequest(e2eRepo, githubtest.PullRequest{Number: 4, Title: "New landing page", Author: "bob", HeadSHA: sha('b'), Base: "main"})
	e.gh.MergePullRequest(e2eRepo, 4, sha('c'), "alice")
	if err := e.gh.SetTarball(e2eRepo, sha('c'), map[string]string{
		"index.html": "<h1>shop v2</h1>\n", "app/app.js": "console.log('v2')\n", "bin/health": "#!/bin/sh\ngrep -q v2 index.html\n",
	}); err != nil {
		t.Fatal(err)
	}

	pub := writeTestSSHKey(t, filepath.Join(e.dir, "staging_ed25519"), "")
	srv := sshdtest.Start(t, pub)
	servers := []*sshdtest.Server{srv}
	if opts.secondServer {
		srv2 := sshdtest.Start(t, pub)
		servers = append(servers, srv2)
		e.sshd2Port, e.root2 = srv2.Port, filepath.Join(t.TempDir(), "shop2")
	}
	sshdtest.WriteKnownHosts(t, filepath.Join(e.dir, "known_hosts_staging"), servers...)
	e.sshdPort, e.sshdUser = srv.Port, srv.User
	e.root = filepath.Join(t.TempDir(), "shop")
	if !opts.noAttest {
		if _, err := attest.GenerateKeyFiles(filepath.Join(e.dir, "attest.key"), filepath.Join(e.dir, "attest.pub"), "tollgate-e2e-attestation"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := audit.GenerateKeyFiles(filepath.Join(e.dir, "audit.key"), filepath.Join(e.dir, "audit.pub"), "tollgate-e2e"); err != nil {
		t.Fatal(err)
	}
	v, err := audit.LoadVerifier(filepath.Join(e.dir, "audit.pub"))
	if err != nil {
		t.Fatal(err)
	}
	e.verifier = v
	writeTestFile(t, filepath.Join(e.dir, "app.pem"), string(e.gh.AppPrivateKeyPEM()))
	e.configPath = filepath.Join(e.dir, "tollgate.yml")
	e.dbPath = filepath.Join(e.dir, "tollgate.db")
	e.writeConfig(t, "")
	return e
}

// writeConfig writes the served config; extra is YAML added to staging.
func (e *e2e) writeConfig(t *testing.T, extra string) {
	t.Helper()
	hooks := ""
	if e.opts.beforeSwitch != "" {
		hooks = "        hooks:\n          before_switch: [" + jsonString(e.opts.beforeSwitch) + "]\n"
	}
	if extra != "" {
		extra = "        " + strings.ReplaceAll(strings.TrimSpace(extra), "\n", "\n        ") + "\n"
	}
	oauth := ""
	if e.opts.webLogin {
		id, secret := e.gh.AppOAuthClient()
		oauth = fmt.Sprintf("  oauth_client_id: %q\n  oauth_client_secret: %q\n", id, secret)
	}
	health := "./bin/health"
	if e.opts.healthCheck != "" {
		health = jsonString(e.opts.healthCheck)
	}
	listen := e.listen
	if listen == "" {
		listen = "127.0.0.1:0"
	}
	public := e.public
	if public == "" {
		public = e2ePublic
	}
	attestation, second := "", ""
	if !e.opts.noAttest {
		attestation = "attestation:\n  signing_key_file: attest.key\n"
	}
	if e.opts.secondServer {
		second = fmt.Sprintf("          - host: 127.0.0.1\n            port: %d\n            user: %s\n            path: %s\n", e.sshd2Port, e.sshdUser, e.root2)
	}
	yaml := fmt.Sprintf(`listen: %q
public_url: %s
database: tollgate.db
audit:
  signing_key_file: audit.key
  public_key_file: audit.pub
  checkpoint_every: 4
%sgithub:
  api_url: %s
  web_url: %s
  app_id: %d
  private_key_file: app.pem
  webhook_secret: %s
%s  org: acme
repositories:
  %s:
    environments:
      staging:
        deployers: [deployers]
        auto_deploy:
          on_merge_to: [main]
        servers:
          - host: 127.0.0.1
            port: %d
            user: %s
%s        ssh:
          private_key_file: staging_ed25519
          known_hosts_file: known_hosts_staging
        path: %s
        health_check:
          command: %s
          interval: 100ms
        environment_url: %s
%s%s`, listen, public, attestation, e.gh.APIURL(), e.gh.URL(), e.gh.AppID(), e2eSecret, oauth, e2eRepo, e.sshdPort, e.sshdUser, second, e.root, health, e2eEnvURL, hooks, extra)
	writeTestFile(t, e.configPath, yaml)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// start runs serve until stop; it returns once the server listens.
func (e *e2e) start(t *testing.T) {
	t.Helper()
	ln, err := e.listener()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan int, 1)
	ready := make(chan string, 1)
	grace := e.opts.grace
	if grace == 0 {
		grace = time.Minute
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() {
		e.done <- serve(ctx, log, e.stderr, server.RunOptions{ConfigPath: e.configPath, Workers: 2, ShutdownGrace: grace,
			Listener: ln, Ready: func(addr string) { ready <- addr }, Reload: e.reload})
	}()
	select {
	case e.addr = <-ready:
	case code := <-e.done:
		t.Fatalf("serve exited with %d before listening:\n%s", code, e.stderr.String())
	case <-time.After(e2eTimeout):
		t.Fatalf("serve did not start:\n%s", e.stderr.String())
	}
	t.Cleanup(func() {
		if e.cancel != nil {
			e.stop(t)
		}
	})
}

// listener is the listener set for the test (once), or a new one on a
// free loopback port.
func (e *e2e) listener() (net.Listener, error) {
	if ln := e.ln; ln != nil {
		e.ln = nil
		return ln, nil
	}
	return net.Listen("tcp", "127.0.0.1:0")
}

// stop sends the stop signal and returns serve's exit code.
func (e *e2e) stop(t *testing.T) int {
	t.Helper()
	e.cancel()
	e.cancel = nil
	select {
	case code := <-e.done:
		return code
	case <-time.After(e2eTimeout + time.Minute):
		t.Fatalf("serve did not stop:\n%s", e.stderr.String())
		return -1
	}
}

func (e *e2e) url(path string) string { return "http://" + e.target() + path }

// target is the address the next request goes to.
func (e *e2e) target() string {
	if e.pick != nil {
		return e.pick()
	}
	return e.addr
}

// get fetches a path and returns status and body.
func (e *e2e) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(e.url(path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// sendMerge delivers the merge of PR #4, signed like GitHub, with delivery id.
func (e *e2e) sendMerge(t *testing.T, deliveryID string) int {
	t.Helper()
	p, err := e.gh.Payloads().PullRequestMerged(e2eRepo, 4, sha('c'), "alice", "main")
	if err != nil {
		t.Fatal(err)
	}
	body, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.gh.SendWebhookDelivery(context.Background(), e.url("/webhooks/github"), e2eSecret, p.Event, deliveryID, body)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(e2eTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deployment waits for the one GitHub deployment of the repository to
// reach a status in want and returns it.
func (e *e2e) deployment(t *testing.T, want ...string) githubtest.Deployment {
	t.Helper()
	var d githubtest.Deployment
	waitFor(t, "a deployment status in "+strings.Join(want, "/"), func() bool {
		ds := e.gh.Deployments(e2eRepo)
		if len(ds) == 0 || len(ds[0].Statuses) == 0 {
			return false
		}
		d = ds[0]
		last := d.Statuses[len(d.Statuses)-1].State
		for _, w := range want {
			if last == w {
				return true
			}
		}
		return false
	})
	return d
}

// openDB opens the database read-only, as an auditor's copy would be read.
func (e *e2e) openDB(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.OpenReadOnly(context.Background(), e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// auditActions lists the actions of the audit entries about subject, in order.
func auditActions(t *testing.T, st *store.Store, subject string) []string {
	t.Helper()
	return queryStrings(t, st, `SELECT action FROM audit_entries WHERE subject = ? ORDER BY seq`, subject)
}

// queryStrings returns the one string column of q's rows.
func queryStrings(t *testing.T, st *store.Store, q string, args ...any) []string {
	t.Helper()
	rows, err := st.DB().Query(q, args...)
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
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// auditData returns the data of every entry with action, in order.
func auditData(t *testing.T, st *store.Store, action string) []map[string]any {
	t.Helper()
	return auditDataWhere(t, st, `action = ?`, action)
}

// auditDataWhere decodes the data of the entries matching where, in order.
func auditDataWhere(t *testing.T, st *store.Store, where string, args ...any) []map[string]any {
	t.Helper()
	rows, err := st.DB().Query(`SELECT data FROM audit_entries WHERE `+where+` ORDER BY seq`, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []map[string]any
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// onlyRequest returns the one request in the database.
func onlyRequest(t *testing.T, st *store.Store) bot.Request {
	t.Helper()
	rs, err := st.ListRequests(context.Background(), bot.RequestFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 {
		t.Fatalf("want one request, have %d: %+v", len(rs), rs)
	}
	return rs[0]
}

// current returns the release staging's current link points to, "" if none.
func (e *e2e) current(t *testing.T) string {
	t.Helper()
	l, err := os.Readlink(filepath.Join(e.root, "current"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(l, "releases/")
}
