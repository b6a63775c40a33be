package main

import (
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestHAReadyzFailsWhileTheDatabaseIsUnreachable: a replica whose
// PostgreSQL becomes unreachable (the network between them cut) answers
// /readyz 503 naming the database, so the load balancer stops sending it
// traffic, while /healthz stays 200 (the process is alive: no restart);
// once the database is reachable again the replica is ready again without
// a restart, and it stops cleanly.
func TestHAReadyzFailsWhileTheDatabaseIsUnreachable(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	dsn := storetest.NewSchema(t, false)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	link := startTCPLink(t, u.Host)
	u.Host = link.addr
	h := serveReplicasOn(t, e, 1, haLease, u.String())
	c := h.children[0]
	if code, body, err := httpGetBody(c.url("/readyz")); err != nil || code != 200 {
		t.Fatalf("readyz with the database reachable: %d %q %v", code, body, err)
	}

	link.cut()
	waitFor(t, "readyz to fail on the database check", func() bool {
		code, body, _ := httpGetBody(c.url("/readyz"))
		return code == 503 && strings.Contains(body, "database: FAIL")
	})
	if code, _, err := httpGetBody(c.url("/healthz")); err != nil || code != 200 {
		t.Errorf("healthz with the database unreachable: %d %v, want 200 (the process is alive)", code, err)
	}

	link.restore(t)
	waitFor(t, "readyz to pass with the database back", func() bool {
		code, _, _ := httpGetBody(c.url("/readyz"))
		return code == 200
	})
	h.stop(t)
}

// tcpLink forwards a loopback address to target until cut; restore
// listens on the same address again.
type tcpLink struct {
	addr, target string
	mu           sync.Mutex
	ln           net.Listener
	conns        []net.Conn
}

func startTCPLink(t *testing.T, target string) *tcpLink {
	t.Helper()
	l := &tcpLink{target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.addr = ln.Addr().String()
	l.serve(ln)
	t.Cleanup(l.cut)
	return l
}

func (l *tcpLink) serve(ln net.Listener) {
	l.mu.Lock()
	l.ln = ln
	l.mu.Unlock()
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", l.target)
			if err != nil {
				in.Close()
				continue
			}
			l.mu.Lock()
			l.conns = append(l.conns, in, out)
			l.mu.Unlock()
			go func() { _, _ = io.Copy(out, in); out.Close() }()
			go func() { _, _ = io.Copy(in, out); in.Close() }()
		}
	}()
}

// cut closes the listener and every forwarded connection.
func (l *tcpLink) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ln != nil {
		l.ln.Close()
		l.ln = nil
	}
	for _, c := range l.conns {
		c.Close()
	}
	l.conns = nil
}

// restore listens on the link's address again.
func (l *tcpLink) restore(t *testing.T) {
	t.Helper()
	var ln net.Listener
	var err error
	for range 50 { // the port may linger a moment after the close
		if ln, err = net.Listen("tcp", l.addr); err == nil || !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "address already in use") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listening on %s again: %v", l.addr, err)
	}
	l.serve(ln)
}
