package deploy_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy"
	"github.com/tollgate-dev/tollgate/deploy/sshdtest"
	"github.com/tollgate-dev/tollgate/deploy/sshtest"
	"golang.org/x/crypto/ssh"
)

// backend starts n SSH servers and returns a target reaching them, each
// server with its own deploy path.
type backend struct {
	name  string
	start func(t *testing.T, n int) *fixture
}

var backends = []backend{
	{"openssh", startOpenSSH},
	{"inprocess", startInProcess},
}

// forBackends runs a test against real OpenSSH and the in-process server.
func forBackends(t *testing.T, run func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { run(t, b) })
	}
}

type fixture struct {
	key     ssh.Signer
	target  deploy.Target
	roots   []string
	sshd    []*sshdtest.Server
	engine  *deploy.Engine
	tempDir string
}

func startOpenSSH(t *testing.T, n int) *fixture {
	t.Helper()
	key := sshdtest.NewKey(t)
	servers := sshdtest.StartN(t, n, key.PublicKey())
	f := newFixture(t, key)
	f.sshd = servers
	sshdtest.WriteKnownHosts(t, f.target.KnownHostsFile, servers...)
	for _, s := range servers {
		f.addServer(t, s.Host, s.Port, s.User)
	}
	return f
}

func startInProcess(t *testing.T, n int) *fixture {
	t.Helper()
	key := sshdtest.NewKey(t)
	f := newFixture(t, key)
	var lines []string
	for i := 0; i < n; i++ {
		s, err := sshtest.New(t.TempDir(), key.PublicKey())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		lines = append(lines, s.KnownHostsLine())
		host, port := splitAddr(t, s.Addr)
		f.addServer(t, host, port, "tollgate")
	}
	if err := os.WriteFile(f.target.KnownHostsFile, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func newFixture(t *testing.T, key ssh.Signer) *fixture {
	dir := t.TempDir()
	return &fixture{
		key:     key,
		tempDir: dir,
		engine:  &deploy.Engine{Now: tickClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)), StageDir: t.TempDir()},
		target: deploy.Target{
			Environment:    "staging",
			Signer:         key,
			KnownHostsFile: filepath.Join(dir, "known_hosts"),
			KeepReleases:   5,
			DialTimeout:    20 * time.Second,
			CommandTimeout: 2 * time.Minute,
		},
	}
}

func (f *fixture) addServer(t *testing.T, host string, port int, user string) {
	root := filepath.Join(t.TempDir(), "app")
	f.roots = append(f.roots, root)
	f.target.Servers = append(f.target.Servers, deploy.Server{Host: host, Port: port, User: user, Path: root})
}

func splitAddr(t *testing.T, addr string) (string, int) {
	t.Helper()
	i := strings.LastIndexByte(addr, ':')
	var port int
	for _, c := range addr[i+1:] {
		port = port*10 + int(c-'0')
	}
	return addr[:i], port
}

// tickClock returns a clock that advances one second per reading, so that
// every deploy gets a distinct release name.
func tickClock(start time.Time) func() time.Time {
	var mu sync.Mutex
	now := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now = now.Add(time.Second)
		return now
	}
}

// deploy runs a deploy of sha from repo and returns the result and log.
func (f *fixture) deploy(t *testing.T, r *repo, sha string, spec deploy.ReleaseSpec) (deploy.Result, string, error) {
	t.Helper()
	spec.SHA = sha
	src, err := deploy.GitArchive(context.Background(), r.dir, sha)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var log syncBuf
	res, err := f.engine.Deploy(context.Background(), f.target, spec, src, &log)
	return res, log.String(), err
}

// mustDeploy deploys and fails the test unless it succeeded.
func (f *fixture) mustDeploy(t *testing.T, r *repo, sha string) deploy.Result {
	t.Helper()
	res, log, err := f.deploy(t, r, sha, deploy.ReleaseSpec{})
	if err != nil || res.Outcome != deploy.Succeeded {
		t.Fatalf("deploy %s: outcome %s, err %v\nlog:\n%s", sha, res.Outcome, err, log)
	}
	return res
}

// current returns the release name current points at on root ("" if none).
func current(t *testing.T, root string) string {
	t.Helper()
	target, err := os.Readlink(filepath.Join(root, "current"))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(target, "releases/")
}

// releases lists the release directories on root.
func releases(t *testing.T, root string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(root, "releases"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// fileState is what a test remembers about a file on a target.
type fileState struct {
	Mode  fs.FileMode
	Inode uint64
	Sum   string
	Link  string
	MTime time.Time
}

// snapshot records every entry under dir.
func snapshot(t *testing.T, dir string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	err := filepath.Walk(dir, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		st := fileState{Mode: info.Mode(), Inode: info.Sys().(*syscall.Stat_t).Ino, MTime: info.ModTime()}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			st.Link, _ = os.Readlink(p)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			st.Sum = hex.EncodeToString(sum[:])
		}
		out[rel] = st
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// repo is a git repository in a temp dir.
type repo struct {
	t   *testing.T
	dir string
}

func newRepo(t *testing.T) *repo {
	r := &repo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	return r
}

func (r *repo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=Test", "-c", "user.email=test@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = r.dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// write sets file contents; a name ending in "*" is made executable.
func (r *repo) write(files map[string]string) *repo {
	r.t.Helper()
	for name, content := range files {
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(name, "*") {
			name, mode = strings.TrimSuffix(name, "*"), 0o755
		}
		p := filepath.Join(r.dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			r.t.Fatal(err)
		}
		_ = os.Remove(p)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			r.t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			r.t.Fatal(err)
		}
	}
	return r
}

func (r *repo) symlink(name, target string) *repo {
	r.t.Helper()
	p := filepath.Join(r.dir, name)
	_ = os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.Symlink(target, p); err != nil {
		r.t.Fatal(err)
	}
	return r
}

func (r *repo) remove(names ...string) *repo {
	for _, n := range names {
		if err := os.Remove(filepath.Join(r.dir, n)); err != nil {
			r.t.Fatal(err)
		}
	}
	return r
}

// commit commits everything and returns the SHA.
func (r *repo) commit(msg string) string {
	r.git("add", "-A")
	r.git("commit", "-q", "--allow-empty", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// tarEntry is one entry of a hand-built tar stream.
type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func tarStream(t *testing.T, entries ...tarEntry) *bytes.Reader {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Size: int64(len(e.body)), ModTime: time.Unix(1700000000, 0)}
		if h.Typeflag == 0 {
			h.Typeflag = tar.TypeReg
		}
		if h.Typeflag != tar.TypeReg {
			h.Size = 0
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			if _, err := tw.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b.Bytes())
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func sshFingerprint(k ssh.PublicKey) string { return ssh.FingerprintSHA256(k) }

func newSigner(t *testing.T) ssh.Signer { return sshdtest.NewKey(t) }
