package store

import (
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestReleaseInboxLeasesAtRestart: a restarted process releases the
// leases its dead predecessor held, so those deliveries are claimed at
// once instead of after the lease; done and failed items stay as they are.
func TestReleaseInboxLeasesAtRestart(t *testing.T) { storetest.Run(t, testReleaseInboxLeasesAtRestart) }

func testReleaseInboxLeasesAtRestart(t *testing.T) {
	ctx := context.Background()
	s, clock, path := newInboxStore(t)
	for _, id := range []string{"claimed-1", "claimed-2", "done", "failed", "waiting"} {
		if _, err := s.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: id, EventType: "push"}); err != nil {
			t.Fatal(err)
		}
	}
	claimed, err := s.ClaimDue(ctx, clock.Now(), 4)
	if err != nil || len(claimed) != 4 {
		t.Fatalf("claim = %v, %v", claimed, err)
	}
	if err := s.MarkDone(ctx, claimed[2].Lease()); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, claimed[3].Lease(), context.Canceled); err != nil {
		t.Fatal(err)
	}
	s.Close() // the process dies holding claimed-1 and claimed-2

	restarted, err := Open(ctx, path, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	// On PostgreSQL other processes may be alive and holding their leases:
	// nothing is released, the leases run out on their own.
	wantReleased, want := 2, "claimed-1 claimed-2 waiting"
	if restarted.Engine() == "PostgreSQL" {
		wantReleased, want = 0, "waiting"
	}
	n, err := restarted.ReleaseInboxLeases(ctx)
	if err != nil || n != wantReleased {
		t.Fatalf("ReleaseInboxLeases = %d, %v; want %d", n, err, wantReleased)
	}
	got, err := restarted.ClaimDue(ctx, clock.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range got {
		ids = append(ids, it.DeliveryID)
	}
	if strings.Join(ids, " ") != want {
		t.Errorf("claimable right after restart: %v, want %s", ids, want)
	}
	if c, err := restarted.Counts(ctx); err != nil || c.Failed != 1 {
		t.Errorf("counts %+v, %v; the failed item must stay failed", c, err)
	}
}
