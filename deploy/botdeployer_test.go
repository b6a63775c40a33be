package deploy_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy"
	"github.com/tollgate-dev/tollgate/deploy/sshdtest"
)

// bdEnv is one real sshd target, a git repository to deploy from and a
// BotDeployer wired to both.
type bdEnv struct {
	root     string
	repoDir  string
	deployer *deploy.BotDeployer
	target   deploy.Target
	logs     *bdLogs
}

// bdLogs records each request's deployment log and whether it was closed.
type bdLogs struct {
	mu     sync.Mutex
	logs   map[string]*bdLog
	opened []string
}

type bdLog struct {
	bytes.Buffer
	closed bool
}

func (l *bdLog) Close() error { l.closed = true; return nil }

func (ls *bdLogs) open(id string) io.Writer {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	l := &bdLog{}
	ls.logs[id] = l
	ls.opened = append(ls.opened, id)
	return l
}

func newBDEnv(t *testing.T, configure func(*deploy.Target)) *bdEnv {
	t.Helper()
	key := sshdtest.NewKey(t)
	srv := sshdtest.Start(t, key.PublicKey())
	dir := t.TempDir()
	known := filepath.Join(dir, "known_hosts")
	sshdtest.WriteKnownHosts(t, known, srv)
	e := &bdEnv{root: filepath.Join(t.TempDir(), "app"), repoDir: t.TempDir(),
		logs: &bdLogs{logs: map[string]*bdLog{}}}
	e.target = deploy.Target{
		Environment:    "acme/api/staging",
		Servers:        []deploy.Server{{Host: srv.Host, Port: srv.Port, User: srv.User}},
		Signer:         key,
		KnownHostsFile: known,
		Path:           e.root,
		DialTimeout:    20 * time.Second,
		CommandTimeout: 2 * time.Minute,
	}
	if configure != nil {
		configure(&e.target)
	}
	e.git("init", "-q", "-b", "main")
	e.deployer = &deploy.BotDeployer{
		Engine: &deploy.Engine{StageDir: t.TempDir(), Now: bdClock(time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC))},
		Targets: func(repo, env string) (deploy.Target, bool) {
			if repo == "acme/api" && env == "staging" {
				return e.target, true
			}
			return deploy.Target{}, false
		},
		Source: func(ctx context.Context, repo, sha string) (deploy.Source, io.Closer, error) {
			src, err := deploy.GitArchive(ctx, e.repoDir, sha)
			return src, nil, err
		},
		Log: e.logs.open,
	}
	return e
}

// bdClock advances a minute per reading, so each deploy gets its own release name.
func bdClock(start time.Time) func() time.Time {
	var mu sync.Mutex
	now := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Minute)
		return now
	}
}

func (e *bdEnv) git(args ...string) string {
	cmd := exec.Command("git", append([]string{"-c", "user.name=T", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = e.repoDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		panic("git " + strings.Join(args, " ") + ": " + string(out))
	}
	return strings.TrimSpace(string(out))
}

// commit writes files and commits them, returning the SHA.
func (e *bdEnv) commit(t *testing.T, files map[string]string) string {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(e.repoDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e.git("add", "-A")
	e.git("commit", "-q", "--allow-empty", "-m", "change")
	return e.git("rev-parse", "HEAD")
}

func (e *bdEnv) current(t *testing.T) string {
	t.Helper()
	l, err := os.Readlink(filepath.Join(e.root, "current"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(l, "releases/")
}

func job(id, sha string) bot.DeployJob {
	return bot.DeployJob{RequestID: id, Repo: "acme/api", Environment: "staging", Ref: "main", SHA: sha, Trigger: bot.TriggerMerge}
}

func TestBotDeployerDeploysAndReportsWhatItDid(t *testing.T) {
	e := newBDEnv(t, nil)
	ctx := context.Background()
	sha1 := e.commit(t, map[string]string{"index.html": "v1", "app/main.js": "console.log(1)", "README": "readme"})
	out, err := e.deployer.Deploy(ctx, job("r-first1", sha1))
	if err != nil {
		t.Fatalf("Deploy: %v", err)
	}
	addr := e.target.Servers[0].Host + ":" + itoa(e.target.Servers[0].Port)
	if out.Result != bot.ResultSucceeded || out.Error != "" {
		t.Fatalf("outcome %s, error %q", out.Result, out.Error)
	}
	if !strings.HasSuffix(out.Release, "-"+sha1[:7]) || e.current(t) != out.Release {
		t.Errorf("release %q (current %q), want one named after %s and live", out.Release, e.current(t), sha1[:7])
	}
	if out.FilesSent != 3 || out.BytesSent != int64(len("v1")+len("console.log(1)")+len("readme")) {
		t.Errorf("sent %d files, %d bytes; want 3 files, %d bytes", out.FilesSent, out.BytesSent, len("v1console.log(1)readme"))
	}
	if len(out.Servers) != 1 || out.Servers[0] != addr {
		t.Errorf("servers %v, want [%s]", out.Servers, addr)
	}
	manifest, err := os.ReadFile(filepath.Join(e.root, ".tollgate", out.Release, "manifest"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := deploy.ParseManifest(manifest)
	if err != nil {
		t.Fatal(err)
	}
	if out.ManifestDigest == "" || out.ManifestDigest != m.Digest() {
		t.Errorf("manifest digest %q, want the digest of the release's manifest %q", out.ManifestDigest, m.Digest())
	}
	steps := map[string]bool{}
	for _, s := range out.Steps {
		if s.Server != addr || !s.OK || s.Duration < 0 {
			t.Errorf("step %+v", s)
		}
		steps[s.Name] = true
	}
	for _, want := range []string{"connect", "lock", "upload", "switch"} {
		if !steps[want] {
			t.Errorf("no %q step in %+v", want, out.Steps)
		}
	}
	if out.Duration <= 0 {
		t.Errorf("duration %s", out.Duration)
	}
	l := e.logs.logs["r-first1"]
	if l == nil || !l.closed || !strings.Contains(l.String(), "["+addr+"]") {
		t.Errorf("deployment log not written per server and closed: %+v", l)
	}
	if !strings.Contains(l.String(), "[manifest] f\t") || !strings.Contains(l.String(), "\t2\t") ||
		!strings.Contains(l.String(), "\tindex.html\n") || !strings.Contains(l.String(), out.ManifestDigest) {
		t.Errorf("deployment log lacks the manifest:\n%s", l.String())
	}

	// A second deploy sends only what changed.
	sha2 := e.commit(t, map[string]string{"index.html": "v2"})
	out2, err := e.deployer.Deploy(ctx, job("r-second", sha2))
	if err != nil || out2.Result != bot.ResultSucceeded {
		t.Fatalf("second deploy: %s, %v", out2.Result, err)
	}
	if out2.FilesSent != 1 || out2.BytesSent != 2 {
		t.Errorf("second deploy sent %d files, %d bytes; want 1 file, 2 bytes", out2.FilesSent, out2.BytesSent)
	}

	// A rollback checks the release against Tollgate's record of its
	// deploy: a release whose manifest is not the recorded one stays off.
	e.deployer.Recorded = func(_ context.Context, repo, env, release string) (string, error) {
		if repo != "acme/api" || env != "staging" || release != out.Release {
			t.Errorf("record asked for %s %s %s, want acme/api staging %s", repo, env, release, out.Release)
		}
		return "sha256:" + strings.Repeat("0", 64), nil
	}
	refused, err := e.deployer.Rollback(ctx, bot.DeployJob{RequestID: "r-back00", Repo: "acme/api", Environment: "staging", Trigger: bot.TriggerRollback})
	if err != nil || refused.Result != bot.ResultFailed || !strings.Contains(refused.Error, "is not the one Tollgate deployed") || e.current(t) != out2.Release {
		t.Fatalf("rollback to a release unlike the record: %s, %v (%s), current %s", refused.Result, err, refused.Error, e.current(t))
	}
	e.deployer.Recorded = func(context.Context, string, string, string) (string, error) { return out.ManifestDigest, nil }

	// Rollback returns to the first release.
	back, err := e.deployer.Rollback(ctx, bot.DeployJob{RequestID: "r-back01", Repo: "acme/api", Environment: "staging", Trigger: bot.TriggerRollback})
	if err != nil || back.Result != bot.ResultSucceeded {
		t.Fatalf("rollback: %s, %v (%s)", back.Result, err, back.Error)
	}
	if back.Release != out.Release || e.current(t) != out.Release {
		t.Errorf("rolled back to %q (current %q), want %q", back.Release, e.current(t), out.Release)
	}
	if back.ManifestDigest != out.ManifestDigest {
		t.Errorf("rollback manifest digest %q, want the first release's %q", back.ManifestDigest, out.ManifestDigest)
	}
	// What an attestation needs: the commit, each server as connected to
	// (host key fingerprint, switch time) and the deploy's times.
	for _, o := range []bot.DeployOutcome{out, back} {
		if len(o.Targets) != 1 || o.Targets[0].Host != e.target.Servers[0].Host || o.Targets[0].Port != e.target.Servers[0].Port ||
			!strings.HasPrefix(o.Targets[0].HostKeySHA256, "SHA256:") || o.Targets[0].SwitchedAt.IsZero() {
			t.Errorf("release %s: targets %+v", o.Release, o.Targets)
		}
		if o.StartedAt.IsZero() || o.SwitchedAt != o.Targets[0].SwitchedAt || !o.FinishedAt.After(o.SwitchedAt) || o.SwitchedAt.Before(o.StartedAt) {
			t.Errorf("release %s: started %v, switched %v, finished %v", o.Release, o.StartedAt, o.SwitchedAt, o.FinishedAt)
		}
	}
	if out.SHA != sha1 || back.SHA != sha1 {
		t.Errorf("commits %q and %q, want the first release's %s", out.SHA, back.SHA, sha1)
	}

	// The attestation goes next to the release, read-only.
	if err := e.deployer.WriteAttestation(ctx, "acme/api", "staging", out.Release, []byte("{}\n")); err != nil {
		t.Fatalf("WriteAttestation: %v", err)
	}
	if got, err := os.ReadFile(filepath.Join(e.root, "releases", out.Release, deploy.AttestationFile)); err != nil || string(got) != "{}\n" {
		t.Errorf("attestation %q, %v", got, err)
	}
	if err := e.deployer.WriteAttestation(ctx, "acme/api", "production", out.Release, []byte("{}\n")); err == nil {
		t.Error("an environment without servers was accepted")
	}
}

func TestBotDeployerFailedHealthCheckRollsBackAndRedacts(t *testing.T) {
	const secret = "hunter2-database-password"
	e := newBDEnv(t, func(tg *deploy.Target) {
		tg.HealthCheck = deploy.HealthCheck{Command: "echo connecting with " + secret + "; exit 1", Interval: 10 * time.Millisecond}
		tg.Secrets = []string{secret}
	})
	ctx := context.Background()
	good := e.commit(t, map[string]string{"index.html": "v1"})
	e.target.HealthCheck = deploy.HealthCheck{}
	if out, err := e.deployer.Deploy(ctx, job("r-good01", good)); err != nil || out.Result != bot.ResultSucceeded {
		t.Fatalf("first deploy: %s %v", out.Result, err)
	}
	live := e.current(t)
	e.target.HealthCheck = deploy.HealthCheck{Command: "echo connecting with " + secret + "; exit 1", Interval: 10 * time.Millisecond}

	bad := e.commit(t, map[string]string{"index.html": "v2"})
	out, err := e.deployer.Deploy(ctx, job("r-bad001", bad))
	if err != nil {
		t.Fatalf("a deploy that ran and failed must return its outcome, not an error: %v", err)
	}
	if out.Result != bot.ResultRolledBack || e.current(t) != live {
		t.Errorf("outcome %s, current %s; want rolled_back to %s", out.Result, e.current(t), live)
	}
	if out.Error == "" || strings.Contains(out.Error, secret) {
		t.Errorf("error %q: want the failure, without the secret", out.Error)
	}
	failed := false
	for _, s := range out.Steps {
		failed = failed || (s.Name == "health" && !s.OK)
	}
	if !failed {
		t.Errorf("no failed health step in %+v", out.Steps)
	}
	if l := e.logs.logs["r-bad001"].String(); strings.Contains(l, secret) || !strings.Contains(l, "[REDACTED]") {
		t.Errorf("deployment log must show the redacted output:\n%s", l)
	}
}

func TestBotDeployerRefusals(t *testing.T) {
	e := newBDEnv(t, nil)
	sha := e.commit(t, map[string]string{"a": "a"})
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	cases := []struct {
		name    string
		ctx     context.Context
		job     bot.DeployJob
		wantErr bool // an error (could not run, interrupted) rather than a failed outcome
		want    string
	}{
		{"unknown environment", context.Background(),
			bot.DeployJob{RequestID: "r-unk001", Repo: "acme/api", Environment: "qa", SHA: sha, Trigger: bot.TriggerSlack},
			true, "acme/api qa has no servers"},
		{"commit that does not exist", context.Background(), job("r-nosha1", strings.Repeat("ab", 20)), false, "git archive"},
		{"interrupted", canceled, job("r-intr01", sha), true, "context canceled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := e.deployer.Deploy(c.ctx, c.job)
			switch {
			case c.wantErr && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("err = %v, want one saying %q", err, c.want)
			case !c.wantErr && (err != nil || out.Result != bot.ResultFailed || !strings.Contains(out.Error, c.want)):
				t.Errorf("outcome %s %q, err %v; want failed saying %q", out.Result, out.Error, err, c.want)
			}
			if _, statErr := os.Lstat(filepath.Join(e.root, "current")); statErr == nil {
				t.Error("something went live")
			}
		})
	}
}

func itoa(n int) string {
	var b []byte
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}
