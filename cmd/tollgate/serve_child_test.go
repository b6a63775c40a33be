package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveChild is `tollgate serve` running as a separate process (this test
// binary re-executed through TestServeHelperProcess), so a test can
// SIGKILL it and start it again on the same configuration, or drive it
// over loopback without sharing the load generator's heap and scheduler.
type serveChild struct {
	configPath string
	addr       string   // host:port the configuration listens on
	logPath    string   // the children's stderr, appended across restarts
	env        []string // added to the child's environment (KEY=value)
	cmd        *exec.Cmd
	exited     chan error
}

// freeLoopbackAddr returns a loopback address nothing listens on, for a
// configuration's listen key (the port is released for the child to take).
func freeLoopbackAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// newServeChild describes a child serving configPath, which listens on addr.
// Nothing runs until start.
func newServeChild(tb testing.TB, configPath, addr string) *serveChild {
	c := &serveChild{configPath: configPath, addr: addr, logPath: filepath.Join(tb.TempDir(), "serve.log")}
	tb.Cleanup(func() {
		if c.running() {
			_ = c.cmd.Process.Kill()
			<-c.exited
		}
	})
	return c
}

func (c *serveChild) url(path string) string { return "http://" + c.addr + path }

func (c *serveChild) running() bool { return c.cmd != nil && c.cmd.ProcessState == nil }

// start runs the child and waits until it answers /healthz.
func (c *serveChild) start(tb testing.TB, extraArgs ...string) {
	tb.Helper()
	logFile, err := os.OpenFile(c.logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	args := append([]string{"-test.run=^TestServeHelperProcess$", "--", "serve", "--config", c.configPath}, extraArgs...)
	c.cmd = exec.Command(os.Args[0], args...)
	c.cmd.Env = append(append(os.Environ(), helperEnv+"=1"), c.env...)
	c.cmd.Stderr = logFile
	if err := c.cmd.Start(); err != nil {
		logFile.Close()
		tb.Fatal(err)
	}
	logFile.Close() // the child holds its own descriptor
	c.exited = make(chan error, 1)
	go func(cmd *exec.Cmd, exited chan<- error) { exited <- cmd.Wait() }(c.cmd, c.exited)
	deadline := time.Now().Add(e2eTimeout)
	for {
		if code, err := httpGet(c.url("/healthz")); err == nil && code == 200 {
			return
		}
		select {
		case err := <-c.exited:
			tb.Fatalf("serve exited before answering /healthz: %v\n%s", err, c.logTail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("serve did not answer /healthz within %s\n%s", e2eTimeout, c.logTail())
		}
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *serveChild) kill(tb testing.TB) {
	tb.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		tb.Fatal(err)
	}
	<-c.exited
}

// terminate sends SIGTERM and returns the exit error (nil for exit 0).
func (c *serveChild) terminate(tb testing.TB) error {
	tb.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatal(err)
	}
	select {
	case err := <-c.exited:
		return err
	case <-time.After(e2eTimeout + time.Minute):
		tb.Fatalf("serve did not stop on SIGTERM\n%s", c.logTail())
		return nil
	}
}

// logTail is the end of the children's log, for failure messages.
func (c *serveChild) logTail() string {
	b, _ := os.ReadFile(c.logPath)
	s := string(b)
	if len(s) > 8000 {
		s = "…" + s[len(s)-8000:]
	}
	return strings.TrimSpace(s)
}
