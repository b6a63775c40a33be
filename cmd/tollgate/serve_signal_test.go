package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// helperEnv makes TestServeHelperProcess run `tollgate` with the arguments
// after "--", as main does, in a child process the test can signal.
const helperEnv = "TOLLGATE_SERVE_TEST_HELPER"

func TestServeHelperProcess(t *testing.T) {
	if os.Getenv(helperEnv) != "1" {
		t.Skip("runs only as the child process of TestServeSignals")
	}
	args := os.Args
	if i := slices.Index(args, "--"); i >= 0 {
		args = args[i+1:]
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, args, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// TestServeSignals runs `tollgate serve` as a process: SIGHUP reloads the
// configuration, SIGTERM stops it with exit 0 after a signed checkpoint.
func TestServeSignals(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.listen = ln.Addr().String()
	ln.Close()
	e.writeConfig(t, "")
	e.addr = e.listen

	cmd := exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$", "--", "serve", "--config", e.configPath)
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stderr = e.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	waitFor(t, "the server to answer /healthz", func() bool {
		resp, err := httpGet(e.url("/healthz"))
		return err == nil && resp == 200
	})

	e.writeConfig(t, "approvers: [approvers]\nrequired_approvals: 1")
	want := fileHash(t, e.configPath)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if got := e.waitAudit(t, "config.reloaded", 1); got[0]["config_hash"] != want {
		t.Errorf("config.reloaded %v, want hash %s", got[0], want)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("serve exited with %v, want 0\n%s", err, e.stderr.String())
		}
	case <-time.After(e2eTimeout):
		t.Fatalf("serve did not stop on SIGTERM\n%s", e.stderr.String())
	}
	st := e.openDB(t)
	if len(auditData(t, st, "server.stopped")) != 1 {
		t.Error("no server.stopped entry")
	}
	rep, err := audit.Verify(context.Background(), st.DB(), e.verifier)
	if err != nil || !rep.OK || rep.UnsignedTail != 0 {
		t.Errorf("verify after SIGTERM: %+v %v", rep, err)
	}
	if !strings.Contains(e.stderr.String(), `"msg":"stopped"`) {
		t.Errorf("no stop logged:\n%s", e.stderr.String())
	}
}

func httpGet(url string) (int, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
