package store

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// openReplicas opens one store per replica id on one new database, each
// judging liveness on clock.
func openReplicas(t *testing.T, clock *fakeClock, ids ...string) []*Store {
	t.Helper()
	path := storetest.Location(t)
	var out []*Store
	for _, id := range ids {
		s, err := Open(context.Background(), path, Options{Now: clock.Now, InboxLease: time.Hour, Replica: id})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		s.wall = clock.Now
		out = append(out, s)
	}
	return out
}

// TestReplicaHeartbeat: a heartbeat renews a live row and refuses an
// expired one (the replica must register again and count its work lost);
// Replicas lists the live ones; leaving removes the row.
func TestReplicaHeartbeat(t *testing.T) { storetest.Run(t, testReplicaHeartbeat) }

func testReplicaHeartbeat(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Now()}
	s := openReplicas(t, clock, "a")[0]
	host, _ := os.Hostname()
	now := clock.Now()
	if err := s.RegisterReplica(ctx, Replica{ID: "a", Host: host, PID: os.Getpid(), StartedAt: now, HeartbeatAt: now,
		ExpiresAt: now.Add(15 * time.Second)}); err != nil {
		t.Fatal(err)
	}
	clock.Add(5 * time.Second)
	if ok, err := s.Heartbeat(ctx, "a", clock.Now(), clock.Now().Add(15*time.Second)); err != nil || !ok {
		t.Fatalf("heartbeat within the lease = %v, %v; want renewed", ok, err)
	}
	clock.Add(16 * time.Second)
	if rs, err := s.Replicas(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("replicas after the lease ran out: %v, %v; want none", rs, err)
	}
	if ok, err := s.Heartbeat(ctx, "a", clock.Now(), clock.Now().Add(15*time.Second)); err != nil || ok {
		t.Fatalf("heartbeat after the lease ran out = %v, %v; want refused", ok, err)
	}
	register(t, s, "a", host, clock.Now().Add(15*time.Second))
	if rs, err := s.Replicas(ctx); err != nil || len(rs) != 1 || rs[0].ID != "a" {
		t.Fatalf("replicas = %v, %v; want a", rs, err)
	}
	if err := s.LeaveReplica(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if rs, err := s.Replicas(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("replicas after leaving: %v, %v", rs, err)
	}
}

// TestSQLiteServesOneProcess: on SQLite a second live process is refused
// (several replicas need PostgreSQL), while the row of a process on this
// host that was killed is cleared at once.
func TestSQLiteServesOneProcess(t *testing.T) {
	ctx := context.Background()
	path := storetest.Location(t)
	host, _ := os.Hostname()
	s, err := Open(ctx, path, Options{Replica: "second"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now()
	put := func(id string, pid int) {
		if _, err := s.DB().Exec(upsert("replicas", "id, host, pid, version, started_at, heartbeat_at, expires_at", "id"),
			id, host, pid, "", now.UnixNano(), now.UnixNano(), now.Add(time.Minute).UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	second := Replica{ID: "second", Host: host, PID: os.Getpid(), StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(time.Minute)}

	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	put("killed", dead.Process.Pid)
	if err := s.RegisterReplica(ctx, second); err != nil {
		t.Fatalf("a killed process's row must not hold the file: %v", err)
	}
	if rs, _ := s.Replicas(ctx); len(rs) != 1 || rs[0].ID != "second" {
		t.Fatalf("replicas = %v; want the killed one cleared", rs)
	}
	put("first", os.Getppid()) // a live process on this host
	if err := s.RegisterReplica(ctx, second); !errors.Is(err, ErrAnotherProcess) {
		t.Fatalf("second live process on one SQLite file: %v, want ErrAnotherProcess", err)
	}
}

// TestInboxLeaseOfStoppedReplicaIsTakenOver: an item leased by a replica
// whose heartbeat stopped is claimed again at once, with a new fencing
// token, though its lease has an hour to run; the stopped replica's late
// outcome is refused (ErrInboxLeaseLost) and changes nothing.
func TestInboxLeaseOfStoppedReplicaIsTakenOver(t *testing.T) {
	storetest.Run(t, testInboxLeaseOfStoppedReplicaIsTakenOver)
}

func testInboxLeaseOfStoppedReplicaIsTakenOver(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Now()}
	ss := openReplicas(t, clock, "a", "b")
	a, b := ss[0], ss[1]
	register(t, a, "a", "h1", clock.Now().Add(15*time.Second))
	register(t, b, "b", "h2", clock.Now().Add(time.Hour))
	if _, err := a.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: "d-1", EventType: "push"}); err != nil {
		t.Fatal(err)
	}
	held, err := a.ClaimDue(ctx, clock.Now(), 10)
	if err != nil || len(held) != 1 {
		t.Fatalf("a claims: %v, %v", held, err)
	}
	if got, err := b.ClaimDue(ctx, clock.Now(), 10); err != nil || len(got) != 0 {
		t.Fatalf("b claims a live replica's lease: %v, %v; want nothing", got, err)
	}
	clock.Add(16 * time.Second) // a stops heartbeating
	got, err := b.ClaimDue(ctx, clock.Now(), 10)
	if err != nil || len(got) != 1 || got[0].LeaseToken <= held[0].LeaseToken {
		t.Fatalf("b claims after a stopped: %v, %v; want d-1 with a newer token", got, err)
	}
	if err := a.MarkDone(ctx, held[0].Lease()); !errors.Is(err, ErrInboxLeaseLost) {
		t.Fatalf("a's late outcome: %v, want ErrInboxLeaseLost", err)
	}
	if err := b.MarkDone(ctx, got[0].Lease()); err != nil {
		t.Fatal(err)
	}
	if h, err := b.HeldBy(ctx, "b"); err != nil || h.InboxLeases != 0 {
		t.Errorf("b holds %+v, %v after marking; want no lease", h, err)
	}
}

// TestLeaderLease: one holder at a time; the holder renews; an expired
// holding is taken with the next term and its old holder can no longer
// renew it; a resignation frees it at once.
func TestLeaderLease(t *testing.T) { storetest.Run(t, testLeaderLease) }

func testLeaderLease(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Now()}
	s := openReplicas(t, clock, "a")[0]
	lease := 15 * time.Second
	l, ok, err := s.TryLead(ctx, "jobs", "a", clock.Now().Add(lease))
	if err != nil || !ok || l.Term != 1 {
		t.Fatalf("a tries a free lease: %+v, %v, %v; want elected, term 1", l, ok, err)
	}
	if l, ok, err := s.TryLead(ctx, "jobs", "b", clock.Now().Add(lease)); err != nil || ok || l.Holder != "a" {
		t.Fatalf("b tries a held lease: %+v, %v, %v; want refused, held by a", l, ok, err)
	}
	clock.Add(10 * time.Second)
	if kept, err := s.KeepLead(ctx, "jobs", "a", 1, clock.Now().Add(lease)); err != nil || !kept {
		t.Fatalf("a renews: %v, %v", kept, err)
	}
	clock.Add(16 * time.Second) // a stopped renewing
	if cur, err := s.Leader(ctx, "jobs"); err != nil || cur.Holder != "" {
		t.Fatalf("leader after expiry: %+v, %v; want nobody", cur, err)
	}
	l, ok, err = s.TryLead(ctx, "jobs", "b", clock.Now().Add(lease))
	if err != nil || !ok || l.Term != 2 {
		t.Fatalf("b takes the expired lease: %+v, %v, %v; want elected, term 2", l, ok, err)
	}
	if kept, err := s.KeepLead(ctx, "jobs", "a", 1, clock.Now().Add(lease)); err != nil || kept {
		t.Fatalf("a renews a lease b took: %v, %v; want refused", kept, err)
	}
	if err := s.Resign(ctx, "jobs", "b", 2); err != nil {
		t.Fatal(err)
	}
	if l, ok, err := s.TryLead(ctx, "jobs", "a", clock.Now().Add(lease)); err != nil || !ok || l.Term != 1 {
		t.Fatalf("a after b resigned: %+v, %v, %v; want elected", l, ok, err)
	}
}

// TestLeaderLeaseOneWinner: replicas racing for a free lease elect one.
func TestLeaderLeaseOneWinner(t *testing.T) {
	storetest.RunOn(t, storetest.Postgres, func(t *testing.T) {
		clock := &fakeClock{t: time.Now()}
		ids := []string{"a", "b", "c", "d", "e", "f"}
		ss := openReplicas(t, clock, ids...)
		for round := range 10 {
			var wg sync.WaitGroup
			wins := make([]bool, len(ss))
			for i, s := range ss {
				wg.Go(func() {
					_, ok, err := s.TryLead(context.Background(), "race", ids[i], clock.Now().Add(time.Minute))
					if err != nil {
						t.Error(err)
					}
					wins[i] = ok
				})
			}
			wg.Wait()
			n := 0
			for _, w := range wins {
				if w {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("round %d: %d replicas elected, want 1", round, n)
			}
			clock.Add(2 * time.Minute) // the holding expires for the next round
		}
	})
}

// TestOrphanedRuns: a running request belongs to the replica that started
// it; once that replica stops heartbeating, another replica (never the
// runner itself) sees it orphaned.
func TestOrphanedRuns(t *testing.T) { storetest.Run(t, testOrphanedRuns) }

func testOrphanedRuns(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Now()}
	ss := openReplicas(t, clock, "a", "b")
	a, b := ss[0], ss[1]
	register(t, a, "a", "h1", clock.Now().Add(15*time.Second))
	register(t, b, "b", "h2", clock.Now().Add(time.Hour))
	if _, _, err := a.CreateRequest(ctx, sampleRequest("r-aaaaaa", "k1", "production", bot.StateQueued), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := a.UpdateRequest(ctx, "r-aaaaaa", func(cur *bot.Request) ([]bot.AuditEvent, error) {
		cur.State = bot.StateRunning
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	if ids, err := a.RunsOf(ctx, "a"); err != nil || len(ids) != 1 {
		t.Fatalf("runs of a = %v, %v", ids, err)
	}
	if o, err := b.OrphanedRuns(ctx); err != nil || len(o) != 0 {
		t.Fatalf("orphans while a lives: %v, %v", o, err)
	}
	clock.Add(16 * time.Second)
	if o, err := a.OrphanedRuns(ctx); err != nil || len(o) != 0 {
		t.Fatalf("a's own run seen orphaned by a: %v, %v", o, err)
	}
	o, err := b.OrphanedRuns(ctx)
	if err != nil || len(o) != 1 || o[0] != (OrphanedRun{RequestID: "r-aaaaaa", Runner: "a"}) {
		t.Fatalf("orphans after a stopped: %v, %v", o, err)
	}
}

// TestOutboxClaim: on PostgreSQL one replica delivers a request's
// notifications at a time; the claim of a replica that stopped, or one
// that expired, is taken over; a released claim is free.
func TestOutboxClaim(t *testing.T) {
	storetest.RunOn(t, storetest.Postgres, func(t *testing.T) {
		ctx := context.Background()
		clock := &fakeClock{t: time.Now()}
		ss := openReplicas(t, clock, "a", "b")
		a, b := ss[0], ss[1]
		register(t, a, "a", "h1", clock.Now().Add(15*time.Second))
		register(t, b, "b", "h2", clock.Now().Add(time.Hour))
		ta, ok, err := a.ClaimOutbox(ctx, "r-1", clock.Now().Add(time.Hour))
		if err != nil || !ok {
			t.Fatalf("a claims: %v, %v", ok, err)
		}
		if _, ok, err := b.ClaimOutbox(ctx, "r-1", clock.Now().Add(time.Hour)); err != nil || ok {
			t.Fatalf("b claims a's: %v, %v; want refused", ok, err)
		}
		if _, ok, err := a.ClaimOutbox(ctx, "r-1", clock.Now().Add(time.Hour)); err != nil || !ok {
			t.Fatalf("a renews its own: %v, %v", ok, err)
		}
		if err := a.ReleaseOutbox(ctx, "r-1", ta); err != nil { // an old token releases nothing
			t.Fatal(err)
		}
		if _, ok, _ := b.ClaimOutbox(ctx, "r-1", clock.Now().Add(time.Hour)); ok {
			t.Fatal("a stale token released a's renewed claim")
		}
		clock.Add(16 * time.Second) // a stops heartbeating
		tb, ok, err := b.ClaimOutbox(ctx, "r-1", clock.Now().Add(time.Hour))
		if err != nil || !ok {
			t.Fatalf("b takes over a stopped replica's claim: %v, %v", ok, err)
		}
		if err := b.ReleaseOutbox(ctx, "r-1", tb); err != nil {
			t.Fatal(err)
		}
		register(t, a, "a", "h1", clock.Now().Add(time.Hour))
		if _, ok, err := a.ClaimOutbox(ctx, "r-1", clock.Now().Add(time.Hour)); err != nil || !ok {
			t.Fatalf("a claims a released one: %v, %v", ok, err)
		}
	})
}

// TestReminderRecordedOnce: of two processes recording the same reminder,
// one does (and sends it), the other learns ErrConflict and appends no
// audit entry.
func TestReminderRecordedOnce(t *testing.T) { storetest.Run(t, testReminderRecordedOnce) }

func testReminderRecordedOnce(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	ev := bot.AuditEvent{Actor: "tollgate", Action: bot.ActionLockReminded, Subject: "acme/shop production"}
	if err := s.RecordReminder(ctx, "lock:x", time.Now(), 1, ev); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordReminder(ctx, "lock:x", time.Now(), 1, ev); !errors.Is(err, bot.ErrConflict) {
		t.Fatalf("the same reminder again: %v, want ErrConflict", err)
	}
	if err := s.RecordReminder(ctx, "lock:x", time.Now(), 2, ev); err != nil {
		t.Fatalf("the next reminder: %v", err)
	}
	var n int
	if err := s.DB().QueryRow(`SELECT count(*) FROM audit_entries WHERE action = ?`, bot.ActionLockReminded).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d reminder entries, %v; want 2", n, err)
	}
}
