package storetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// InstallHint says how to get what the PostgreSQL tests need.
const InstallHint = `The store tests run against a real PostgreSQL. Install its server (initdb, postgres):

    sudo apt-get install postgresql        # Debian/Ubuntu; 'make deps' does it when run as root

or point the tests at a server they may create schemas on:

    TOLLGATE_TEST_POSTGRES=postgres://USER:PASSWORD@HOST:5432/DATABASE?sslmode=disable

(TOLLGATE_SKIP_POSTGRES=1 skips only those tests, for a quick local run; CI never sets it.)`

// Cluster is a throwaway PostgreSQL server: initdb in a temporary
// directory, postgres on a free port of 127.0.0.1, trust authentication.
// It runs as an unprivileged user when the caller is root (initdb and
// postgres refuse to run as root), and dies with the process that started
// it (parent-death signal), so a crashed test binary leaves no server.
type Cluster struct {
	// DSN is the superuser URL of the cluster's "postgres" database.
	DSN    string
	dir    string
	cmd    *exec.Cmd
	exited chan struct{}
}

// ownerFile records, in a cluster's directory, the pid of the process that
// started it, so a later StartCluster removes the directories of dead ones.
const ownerFile = "owner.pid"

// StartCluster initialises and starts a cluster. The server's settings
// are PostgreSQL's defaults (fsync and synchronous_commit on), so what is
// measured on it is durable; tests relax synchronous_commit per session.
func StartCluster(ctx context.Context) (*Cluster, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	removeStaleClusters()
	dir, err := os.MkdirTemp("", "tollgate-pg-")
	if err != nil {
		return nil, fmt.Errorf("postgres cluster: %w", err)
	}
	c := &Cluster{dir: dir}
	fail := func(err error) (*Cluster, error) {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("postgres cluster in %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		return fail(err)
	}
	if cred != nil {
		if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return fail(err)
		}
	}
	initdb := exec.CommandContext(ctx, filepath.Join(bin, "initdb"), "-D", filepath.Join(dir, "data"),
		"-U", "tollgate", "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C")
	initdb.Dir, initdb.Env = dir, childEnv()
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb: %w\n%s", err, out))
	}
	for attempt := 0; ; attempt++ {
		err := c.start(ctx, bin, cred)
		if err == nil {
			return c, nil
		}
		if attempt == 4 || !errors.Is(err, errPortTaken) {
			return fail(err)
		}
	}
}

var errPortTaken = errors.New("port taken")

// start runs postgres on a free port and waits until it accepts connections.
func (c *Cluster) start(ctx context.Context, bin string, cred *syscall.Credential) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	logPath := filepath.Join(c.dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	c.cmd = exec.Command(filepath.Join(bin, "postgres"), "-D", filepath.Join(c.dir, "data"), "-p", strconv.Itoa(port),
		"-k", c.dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=400", "-c", "shared_buffers=32MB")
	c.cmd.Dir, c.cmd.Env, c.cmd.Stdout, c.cmd.Stderr = c.dir, childEnv(), logFile, logFile
	// SIGQUIT is postgres's immediate shutdown: the server and its backends
	// stop at once when this process dies, however it dies.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	started := make(chan error, 1)
	c.exited = make(chan struct{})
	go func() {
		// The parent-death signal follows the thread that forked, not the
		// process: keep that thread alive as long as the server runs.
		runtime.LockOSThread()
		if err := c.cmd.Start(); err != nil {
			started <- err
			close(c.exited)
			return
		}
		started <- nil
		c.cmd.Wait()
		close(c.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	c.DSN = fmt.Sprintf("postgres://tollgate@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-c.exited:
			log, _ := os.ReadFile(logPath)
			if strings.Contains(string(log), "could not bind") || strings.Contains(string(log), "already in use") {
				return fmt.Errorf("%w: %d", errPortTaken, port)
			}
			return fmt.Errorf("postgres exited: %s", log)
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		conn, err := pgx.Connect(cctx, c.DSN)
		cancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.Stop()
			return fmt.Errorf("postgres did not accept connections on port %d: %v", port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts the server down (fast shutdown, then immediate) and removes
// its directory.
func (c *Cluster) Stop() {
	if c.cmd != nil && c.cmd.Process != nil {
		c.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-c.exited:
		case <-time.After(20 * time.Second):
			c.cmd.Process.Signal(syscall.SIGQUIT)
			<-c.exited
		}
	}
	os.RemoveAll(c.dir)
}

// EnvPostgresBin names the directory of initdb and postgres when they are
// not where findBinDir looks (another distribution, a build of one's own).
const EnvPostgresBin = "TOLLGATE_POSTGRES_BIN"

// findBinDir returns the directory holding initdb and postgres:
// EnvPostgresBin, else Debian's /usr/lib/postgresql/<version>/bin (newest
// first), else where PATH or pg_config says.
func findBinDir() (string, error) {
	if d := os.Getenv(EnvPostgresBin); d != "" {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
		return "", fmt.Errorf("%s=%s holds no initdb and postgres", EnvPostgresBin, d)
	}
	var dirs []string
	versions, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(versions, func(i, j int) bool { return pgVersion(versions[i]) > pgVersion(versions[j]) })
	dirs = append(dirs, versions...)
	if p, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(p))
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		dirs = append(dirs, strings.TrimSpace(string(out)))
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL server binaries (initdb, postgres) not found in /usr/lib/postgresql/*/bin, on PATH or by pg_config")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	st, err := os.Stat(path)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// runAs returns the credentials to run the server with: none (this user)
// unless this is root, then those of the "postgres" user (created by the
// Debian package) or else "nobody".
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			continue
		}
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}, nil
	}
	return nil, errors.New("running as root, and neither a postgres nor a nobody user exists to run the server as (initdb refuses root)")
}

// childEnv is this process's environment without the PG* variables that
// would point initdb or postgres elsewhere.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") && !strings.HasPrefix(kv, "LC_") && !strings.HasPrefix(kv, "LANG=") {
			env = append(env, kv)
		}
	}
	return append(env, "LC_ALL=C")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// removeStaleClusters deletes the directories of clusters whose starting
// process is gone (killed before it could stop its cluster, whose server
// died with it) and whose server is not running.
func removeStaleClusters() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "tollgate-pg-*"))
	for _, d := range dirs {
		owner := filepath.Join(d, ownerFile)
		if st, err := os.Stat(d); err != nil || time.Since(st.ModTime()) < time.Hour {
			if _, err := os.Stat(owner); err != nil {
				continue // being created right now by another process
			}
		}
		if !pidFileDead(owner) {
			continue
		}
		pm := filepath.Join(d, "data", "postmaster.pid")
		if _, err := os.Stat(pm); err == nil && !pidFileDead(pm) {
			continue
		}
		os.RemoveAll(d)
	}
}

// pidFileDead reports whether the pid on the first line of path names no
// running process (or the file is missing or unreadable as a pid).
func pidFileDead(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return true
	}
	first, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(first))
	if err != nil || pid <= 0 {
		return true
	}
	return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}
