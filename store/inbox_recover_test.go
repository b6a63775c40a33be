package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestReleaseInboxLeasesOfStoppedReplicas: at start a replica releases the
// leases of replicas that stopped (and of claims made under no replica),
// so those deliveries are claimed at once, while the leases of live
// replicas stay; done and failed items stay as they are.
func TestReleaseInboxLeasesOfStoppedReplicas(t *testing.T) {
	storetest.Run(t, testReleaseInboxLeasesOfStoppedReplicas)
}

func testReleaseInboxLeasesOfStoppedReplicas(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Now()}
	path := storetest.Location(t)
	open := func(replica string) *Store {
		s, err := Open(ctx, path, Options{Now: clock.Now, InboxLease: time.Hour, Replica: replica})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		s.wall = clock.Now
		return s
	}
	live, dead, anon := open("live"), open("dead"), open("")
	register(t, live, "live", "other-host", clock.Now().Add(time.Minute))
	register(t, dead, "dead", "other-host-2", clock.Now().Add(time.Second))
	for _, id := range []string{"live-1", "dead-1", "dead-2", "done", "failed", "anon-1", "waiting"} {
		if _, err := live.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: id, EventType: "push"}); err != nil {
			t.Fatal(err)
		}
	}
	claim := func(s *Store, n int) []InboxItem {
		got, err := s.ClaimDue(ctx, clock.Now(), n)
		if err != nil || len(got) != n {
			t.Fatalf("claim %d = %v, %v", n, got, err)
		}
		return got
	}
	claim(live, 1)
	d := claim(dead, 4)
	claim(anon, 1)
	if err := dead.MarkDone(ctx, d[2].Lease()); err != nil {
		t.Fatal(err)
	}
	if err := dead.MarkFailed(ctx, d[3].Lease(), context.Canceled); err != nil {
		t.Fatal(err)
	}
	clock.Add(2 * time.Second) // "dead" stops heartbeating; "live" is still within its lease

	restarted := open("next")
	register(t, restarted, "next", "other-host-3", clock.Now().Add(time.Minute))
	n, err := restarted.ReleaseInboxLeases(ctx)
	if err != nil || n != 3 {
		t.Fatalf("ReleaseInboxLeases = %d, %v; want the 2 of the stopped replica and the 1 of no replica", n, err)
	}
	got, err := restarted.ClaimDue(ctx, clock.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range got {
		ids = append(ids, it.DeliveryID)
	}
	slices.Sort(ids)
	if want := []string{"anon-1", "dead-1", "dead-2", "waiting"}; !slices.Equal(ids, want) {
		t.Errorf("claimable right after the start: %v, want %v (live-1 stays with its live replica)", ids, want)
	}
	if c, err := restarted.Counts(ctx); err != nil || c.Failed != 1 {
		t.Errorf("counts %+v, %v; the failed item must stay failed", c, err)
	}
}

// register records a replica row for id, alive until until, as its
// process would (on SQLite, where RegisterReplica refuses a second live
// process, written directly: these tests play several processes).
func register(t *testing.T, s *Store, id, host string, until time.Time) {
	t.Helper()
	now := s.wall()
	_, err := s.DB().Exec(upsert("replicas", "id, host, pid, version, started_at, heartbeat_at, expires_at", "id"),
		id, host, 1, "test", now.UnixNano(), now.UnixNano(), until.UnixNano())
	if err != nil {
		t.Fatal(err)
	}
}
