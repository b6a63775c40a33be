// Package sshdtest starts real OpenSSH sshd processes for tests: loopback,
// a random port, their own host key and authorized_keys, logging in as the
// user running the tests.
package sshdtest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is the sshd binary the helper runs.
const SSHD = "/usr/sbin/sshd"

// Server is one running sshd.
type Server struct {
	Host    string
	Port    int
	User    string        // the user tests log in as (the current user)
	HostKey ssh.PublicKey // the server's host key, for known_hosts
	Dir     string        // the server's private temp dir (config, keys, log)

	cmd     *exec.Cmd
	exited  chan struct{}
	log     *syncBuffer
	stopped bool
	mu      sync.Mutex
}

// Addr returns host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// KnownHostsLine returns the server's known_hosts line.
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.Addr())}, s.HostKey)
}

// Log returns what sshd wrote to its stderr so far.
func (s *Server) Log() string { return s.log.String() }

// NewKey returns a fresh ed25519 client key.
func NewKey(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Start starts one sshd accepting clientKey for the current user. It fails
// the test when sshd is not installed, unless TOLLGATE_SKIP_SSHD=1.
func Start(t testing.TB, clientKey ssh.PublicKey) *Server {
	t.Helper()
	return StartWithPath(t, clientKey, "")
}

// StartWithPath is Start with the sessions' PATH set (sshd's SetEnv), so
// a test can put wrappers of the server's tools first; "" leaves sshd's
// default.
func StartWithPath(t testing.TB, clientKey ssh.PublicKey, path string) *Server {
	t.Helper()
	if _, err := os.Stat(SSHD); err != nil {
		if os.Getenv("TOLLGATE_SKIP_SSHD") == "1" {
			t.Skipf("%s not found and TOLLGATE_SKIP_SSHD=1", SSHD)
		}
		t.Fatalf("%s not found: install openssh-server (apt-get install openssh-server), or set TOLLGATE_SKIP_SSHD=1 to skip", SSHD)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if u.Uid == "0" {
		// sshd started as root needs its privilege separation directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("create /run/sshd: %v", err)
		}
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		s, err := start(t, u.Username, clientKey, path)
		if err == nil {
			t.Cleanup(s.Stop)
			return s
		}
		lastErr = err
	}
	t.Fatalf("start sshd: %v", lastErr)
	return nil
}

// StartN starts n sshd processes accepting the same client key.
func StartN(t testing.TB, n int, clientKey ssh.PublicKey) []*Server {
	t.Helper()
	out := make([]*Server, n)
	for i := range out {
		out[i] = Start(t, clientKey)
	}
	return out
}

// WriteKnownHosts writes a known_hosts file listing the servers' host keys.
func WriteKnownHosts(t testing.TB, path string, servers ...*Server) {
	t.Helper()
	var b strings.Builder
	for _, s := range servers {
		b.WriteString(s.KnownHostsLine() + "\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
}

func start(t testing.TB, username string, clientKey ssh.PublicKey, path string) (*Server, error) {
	dir := t.TempDir()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	block, err := ssh.MarshalPrivateKey(hostPriv, "sshdtest host key")
	if err != nil {
		return nil, err
	}
	hostKeyFile := filepath.Join(dir, "ssh_host_ed25519_key")
	if err := os.WriteFile(hostKeyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return nil, err
	}
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return nil, err
	}
	authKeys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authKeys, ssh.MarshalAuthorizedKey(clientKey), 0o600); err != nil {
		return nil, err
	}
	// Sessions get an empty HOME of their own: the test user's real dotfiles
	// (bash reads ~/.bashrc for every ssh command) stay out of the tests.
	home := filepath.Join(dir, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	config := fmt.Sprintf(`ListenAddress 127.0.0.1:%d
HostKey %s
AuthorizedKeysFile %s
PidFile none
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowAgentForwarding no
AllowTcpForwarding no
X11Forwarding no
PermitUserEnvironment no
AllowUsers %s
MaxStartups 100:30:200
MaxSessions 100
ClientAliveInterval 15
LogLevel ERROR
SetEnv HOME=%s%s
`, port, hostKeyFile, authKeys, username, home, pathEnv(path))
	configFile := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(configFile, []byte(config), 0o600); err != nil {
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", Port: port, User: username, HostKey: hostSigner.PublicKey(), Dir: dir, log: &syncBuffer{}}
	s.cmd = exec.Command(SSHD, "-D", "-e", "-f", configFile)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// If the test process is killed (t.Cleanup never runs), sshd goes too.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	exited := make(chan struct{})
	s.exited = exited
	go func() { _ = s.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return nil, fmt.Errorf("sshd exited at start: %s", s.log.String())
		default:
		}
		if banner(s.Addr()) {
			return s, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = s.cmd.Process.Kill()
	return nil, fmt.Errorf("sshd did not accept connections on %s within 30s: %s", s.Addr(), s.log.String())
}

// banner reports whether an SSH server answers on addr.
func banner(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 8)
	n, _ := c.Read(buf)
	return bytes.HasPrefix(buf[:n], []byte("SSH-"))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Stop kills sshd and every process it started (connections, sessions and
// their commands), like a server losing power. Safe to call twice.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return
	}
	s.stopped = true
	killTree(s.cmd.Process.Pid)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
	}
}

// killTree kills pid and all its descendants (sshd moves each connection
// into its own session, so a process group kill would miss them).
func killTree(pid int) {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces, so split after ')'.
		i := bytes.LastIndexByte(stat, ')')
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, err := strconv.Atoi(f[1]); err == nil {
			children[ppid] = append(children[ppid], p)
		}
	}
	var walk func(int)
	walk = func(p int) {
		if proc, err := os.FindProcess(p); err == nil {
			_ = proc.Signal(os.Kill)
		}
		for _, c := range children[p] {
			walk(c)
		}
	}
	walk(pid)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// pathEnv is the PATH part of sshd's SetEnv line ("" for none).
func pathEnv(path string) string {
	if path == "" {
		return ""
	}
	return " PATH=" + path
}
