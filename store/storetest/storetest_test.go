package storetest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestEngineOfNestedSubtests(t *testing.T) {
	if got := EngineOf(t); got != SQLite {
		t.Errorf("outside Run: %s", got)
	}
	seen := map[Engine]bool{}
	Run(t, func(t *testing.T) {
		e := EngineOf(t)
		seen[e] = true
		t.Run("sub/with/slashes", func(t *testing.T) {
			if got := EngineOf(t); got != e {
				t.Errorf("nested: %s, want %s", got, e)
			}
		})
	})
	if !seen[SQLite] || !seen[Postgres] {
		t.Errorf("Run ran %v", seen)
	}
}

// Without the server binaries the tests fail, saying what to install.
func TestStartClusterWithoutBinariesSaysWhatToInstall(t *testing.T) {
	t.Setenv(EnvPostgresBin, t.TempDir())
	_, err := StartCluster(context.Background())
	if err == nil || !strings.Contains(err.Error(), "holds no initdb and postgres") {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(InstallHint, "sudo apt-get install postgresql") {
		t.Errorf("the hint does not give the install command:\n%s", InstallHint)
	}
}

// A cluster serves, and Stop leaves no server and no directory behind.
func TestClusterStartsAndStops(t *testing.T) {
	if skipPostgres() {
		t.Skip("TOLLGATE_SKIP_POSTGRES=1")
	}
	ctx := context.Background()
	c, err := StartCluster(ctx)
	if err != nil {
		t.Fatalf("%v\n%s", err, InstallHint)
	}
	conn, err := pgx.Connect(ctx, c.DSN)
	if err != nil {
		c.Stop()
		t.Fatal(err)
	}
	var settings string
	err = conn.QueryRow(ctx, `SELECT current_setting('fsync') || ' ' || current_setting('synchronous_commit')`).Scan(&settings)
	conn.Close(ctx)
	pid := c.cmd.Process.Pid
	c.Stop()
	if err != nil || settings != "on on" {
		t.Errorf("fsync, synchronous_commit = %q, %v; want the durable defaults", settings, err)
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the cluster's directory is still there: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		t.Errorf("postgres (pid %d) still runs", pid)
	}
}

// TestHelperCluster is not a test: run by TestClusterDiesWithItsProcess
// as another process, it starts a cluster, prints the server's pid and
// waits to be killed.
func TestHelperCluster(t *testing.T) {
	if os.Getenv("STORETEST_HELPER_CLUSTER") != "1" {
		t.Skip("helper process")
	}
	c, err := StartCluster(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("pid %d dir %s\n", c.cmd.Process.Pid, c.dir)
	time.Sleep(time.Minute)
}

// A test process killed outright (a -timeout panic, SIGKILL) takes its
// cluster with it, and the next cluster started removes its directory.
func TestClusterDiesWithItsProcess(t *testing.T) {
	if skipPostgres() {
		t.Skip("TOLLGATE_SKIP_POSTGRES=1")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCluster$", "-test.v")
	cmd.Env = append(os.Environ(), "STORETEST_HELPER_CLUSTER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	var dir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "pid %d dir %s", &pid, &dir); err == nil {
			break
		}
	}
	if pid == 0 {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("the helper printed no pid")
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if syscall.Kill(pid, 0) == nil {
		syscall.Kill(pid, syscall.SIGQUIT)
		t.Fatalf("postgres (pid %d) outlived the process that started it", pid)
	}
	removeStaleClusters()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		os.RemoveAll(dir)
		t.Fatalf("the dead cluster's directory %s is still there: %v", dir, err)
	}
}
