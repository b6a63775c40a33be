package store

import (
	"context"
	"testing"
)

// TestReleaseInboxLeasesAtRestart: a restarted process releases the
// leases its dead predecessor held, so those deliveries are claimed at
// once instead of after the lease; done and failed items stay as they are.
func TestReleaseInboxLeasesAtRestart(t *testing.T) {
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
	if err := s.MarkDone(ctx, claimed[2].ID); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, claimed[3].ID, context.Canceled); err != nil {
		t.Fatal(err)
	}
	s.Close() // the process dies holding claimed-1 and claimed-2

	restarted, err := Open(ctx, path, Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	n, err := restarted.ReleaseInboxLeases(ctx)
	if err != nil || n != 2 {
		t.Fatalf("ReleaseInboxLeases = %d, %v; want the 2 leases of the dead process", n, err)
	}
	got, err := restarted.ClaimDue(ctx, clock.Now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, it := range got {
		ids = append(ids, it.DeliveryID)
	}
	if want := []string{"claimed-1", "claimed-2", "waiting"}; len(ids) != 3 || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
		t.Errorf("claimable right after restart: %v, want %v", ids, want)
	}
	if c, err := restarted.Counts(ctx); err != nil || c.Failed != 1 {
		t.Errorf("counts %+v, %v; the failed item must stay failed", c, err)
	}
}
