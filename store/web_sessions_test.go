package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestWebSessions: a session saved by one process is read by another
// (several replicas); touches move last-seen forward only; pruning drops
// the idle and the too old.
func TestWebSessions(t *testing.T) { storetest.Run(t, testWebSessions) }

func testWebSessions(t *testing.T) {
	ctx := context.Background()
	a, path := openTemp(t, Options{})
	b, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	t0 := time.Date(2025, 5, 1, 9, 0, 0, 0, time.UTC)
	ws := WebSession{Key: "k1", Login: "alice", GitHubID: 7, Role: "member", SealedToken: []byte{1, 2, 3},
		CreatedAt: t0, LastSeenAt: t0, CheckedAt: t0}
	if err := a.SaveWebSession(ctx, ws); err != nil {
		t.Fatal(err)
	}
	got, err := b.WebSession(ctx, "k1")
	if err != nil || got.Login != "alice" || string(got.SealedToken) != "\x01\x02\x03" || !got.CreatedAt.Equal(t0) {
		t.Fatalf("read on the other process: %+v, %v", got, err)
	}
	if err := b.TouchWebSession(ctx, "k1", t0.Add(time.Hour), ""); err != nil {
		t.Fatal(err)
	}
	if err := a.TouchWebSession(ctx, "k1", t0.Add(time.Minute), ""); err != nil {
		t.Fatal(err)
	}
	if err := a.TouchWebSession(ctx, "k1", t0.Add(2*time.Hour), "auditor"); err != nil {
		t.Fatal(err)
	}
	got, _ = a.WebSession(ctx, "k1")
	if !got.LastSeenAt.Equal(t0.Add(2*time.Hour)) || got.Role != "auditor" || !got.CheckedAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("after touches: %+v", got)
	}
	ws2 := ws
	ws2.Key, ws2.LastSeenAt = "k2", t0.Add(10*time.Hour)
	if err := a.SaveWebSession(ctx, ws2); err != nil {
		t.Fatal(err)
	}
	if n, err := a.PruneWebSessions(ctx, t0.Add(3*time.Hour), t0.Add(-time.Hour)); err != nil || n != 1 {
		t.Fatalf("prune idle = %d, %v; want k1", n, err)
	}
	if _, err := a.WebSession(ctx, "k1"); !errors.Is(err, ErrNoWebSession) {
		t.Fatalf("k1 after pruning: %v", err)
	}
	if err := b.DeleteWebSession(ctx, "k2"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.WebSession(ctx, "k2"); !errors.Is(err, ErrNoWebSession) {
		t.Fatalf("k2 after delete: %v", err)
	}
}

// TestDeployLogs: chunks appended by the process deploying are read back
// in order by any process.
func TestDeployLogs(t *testing.T) { storetest.Run(t, testDeployLogs) }

func testDeployLogs(t *testing.T) {
	ctx := context.Background()
	a, path := openTemp(t, Options{})
	b, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, ok, err := b.DeployLog(ctx, "r-1"); err != nil || ok {
		t.Fatalf("log before any chunk: %v, %v", ok, err)
	}
	for _, c := range []string{"[hook] one\n", "", "[hook] two\n", "[manifest] x\n"} {
		if err := a.AppendDeployLog(ctx, "r-1", []byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.AppendDeployLog(ctx, "r-2", []byte("other\n")); err != nil {
		t.Fatal(err)
	}
	got, ok, err := b.DeployLog(ctx, "r-1")
	if err != nil || !ok || string(got) != "[hook] one\n[hook] two\n[manifest] x\n" {
		t.Fatalf("log = %q, %v, %v", got, ok, err)
	}
}
