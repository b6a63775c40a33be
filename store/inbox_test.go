package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

func newInboxStore(t *testing.T) (*Store, *fakeClock, string) {
	clock := &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	s, path := openTemp(t, Options{Now: clock.Now, InboxLease: time.Minute})
	return s, clock, path
}

func TestEnqueueDeduplicatesDeliveries(t *testing.T) {
	storetest.Run(t, testEnqueueDeduplicatesDeliveries)
}

func testEnqueueDeduplicatesDeliveries(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newInboxStore(t)
	tests := []struct {
		name    string
		item    InboxItem
		wantDup bool
		wantErr bool
	}{
		{"first github delivery", InboxItem{Source: "github", DeliveryID: "d-1", EventType: "pull_request", Payload: []byte(`{"a":1}`)}, false, false},
		{"redelivery of the same id", InboxItem{Source: "github", DeliveryID: "d-1", EventType: "pull_request", Payload: []byte(`{"a":2}`)}, true, false},
		{"same id from slack is another delivery", InboxItem{Source: "slack", DeliveryID: "d-1", EventType: "block_actions"}, false, false},
		{"unknown source", InboxItem{Source: "gitlab", DeliveryID: "d-2"}, false, true},
		{"missing delivery id", InboxItem{Source: "github", EventType: "push"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dup, err := s.Enqueue(ctx, tt.item)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if dup != tt.wantDup {
				t.Fatalf("duplicate = %v, want %v", dup, tt.wantDup)
			}
		})
	}
	// The redelivery changed nothing: the first payload is kept.
	items, err := s.ClaimDue(ctx, s.now(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 2 || string(items[0].Payload) != `{"a":1}` || items[0].DeliveryID != "d-1" || items[1].Source != "slack" {
		t.Fatalf("claimed %+v", items)
	}
}

func TestClaimDueLeasesAndRetries(t *testing.T) { storetest.Run(t, testClaimDueLeasesAndRetries) }

func testClaimDueLeasesAndRetries(t *testing.T) {
	ctx := context.Background()
	s, clock, _ := newInboxStore(t)
	for _, id := range []string{"a", "b", "c"} {
		if _, err := s.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: id, EventType: "push", Payload: []byte("{}")}); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Second)
	}
	now := clock.Now()
	first, err := s.ClaimDue(ctx, now, 2)
	if err != nil || len(first) != 2 || first[0].DeliveryID != "a" || first[1].DeliveryID != "b" || first[0].Attempts != 1 {
		t.Fatalf("first claim = %+v, %v", first, err)
	}
	second, err := s.ClaimDue(ctx, now, 10)
	if err != nil || len(second) != 1 || second[0].DeliveryID != "c" {
		t.Fatalf("second claim must get only the unleased item: %+v, %v", second, err)
	}
	if err := s.MarkDone(ctx, first[0].Lease()); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkRetry(ctx, first[1].Lease(), errors.New("github api: 502"), now.Add(10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed(ctx, second[0].Lease(), errors.New("payload is not JSON")); err != nil {
		t.Fatal(err)
	}
	c, err := s.Counts(ctx)
	if err != nil || c != (InboxCounts{Pending: 1, Failed: 1}) {
		t.Fatalf("counts = %+v, %v", c, err)
	}
	if got, _ := s.ClaimDue(ctx, now.Add(9*time.Minute), 10); len(got) != 0 {
		t.Fatalf("retry claimed before it is due: %+v", got)
	}
	got, err := s.ClaimDue(ctx, now.Add(10*time.Minute), 10)
	if err != nil || len(got) != 1 || got[0].DeliveryID != "b" || got[0].Attempts != 2 || got[0].LastError != "github api: 502" {
		t.Fatalf("retry claim = %+v, %v", got, err)
	}
	failed, err := s.InboxItem(ctx, second[0].ID)
	if err != nil || failed.State != InboxFailed || failed.LastError != "payload is not JSON" {
		t.Fatalf("failed item = %+v, %v", failed, err)
	}
}

func TestMarkUnknownInboxItem(t *testing.T) { storetest.Run(t, testMarkUnknownInboxItem) }

func testMarkUnknownInboxItem(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newInboxStore(t)
	for name, mark := range map[string]func() error{
		"done":   func() error { return s.MarkDone(ctx, InboxLease{ID: 999}) },
		"retry":  func() error { return s.MarkRetry(ctx, InboxLease{ID: 999}, errors.New("x"), time.Now()) },
		"failed": func() error { return s.MarkFailed(ctx, InboxLease{ID: 999}, errors.New("x")) },
	} {
		t.Run(name, func(t *testing.T) {
			if err := mark(); !errors.Is(err, ErrInboxItemNotFound) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// A process that dies holding leases: after a restart its items are claimed
// again once the lease runs out, not before.
func TestLeasesOfACrashedProcessExpire(t *testing.T) {
	storetest.Run(t, testLeasesOfACrashedProcessExpire)
}

func testLeasesOfACrashedProcessExpire(t *testing.T) {
	ctx := context.Background()
	s, clock, path := newInboxStore(t)
	if _, err := s.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: "x", EventType: "push"}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ClaimDue(ctx, clock.Now(), 10); err != nil || len(got) != 1 {
		t.Fatalf("claim = %v, %v", got, err)
	}
	s.Close() // the process dies without marking the item

	restarted, err := Open(ctx, path, Options{Now: clock.Now, InboxLease: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Close()
	if got, _ := restarted.ClaimDue(ctx, clock.Add(30*time.Second), 10); len(got) != 0 {
		t.Fatalf("claimed while the lease holds: %+v", got)
	}
	got, err := restarted.ClaimDue(ctx, clock.Add(31*time.Second), 10)
	if err != nil || len(got) != 1 || got[0].Attempts != 2 {
		t.Fatalf("claim after lease expiry = %+v, %v", got, err)
	}
}

// Concurrent workers never receive the same item.
func TestConcurrentClaimsAreDisjoint(t *testing.T) { storetest.Run(t, testConcurrentClaimsAreDisjoint) }

func testConcurrentClaimsAreDisjoint(t *testing.T) {
	ctx := context.Background()
	s, clock, _ := newInboxStore(t)
	const n = 200
	for i := 0; i < n; i++ {
		if _, err := s.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: time.Duration(i).String(), EventType: "push"}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				items, err := s.ClaimDue(ctx, clock.Now(), 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(items) == 0 {
					return
				}
				mu.Lock()
				for _, it := range items {
					seen[it.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != n {
		t.Fatalf("%d distinct items claimed, want %d", len(seen), n)
	}
	for id, k := range seen {
		if k != 1 {
			t.Fatalf("item %d claimed %d times", id, k)
		}
	}
}

// TestInboxPayloadsAreCompressedWithLZ4: on a PostgreSQL server built with
// lz4, migration 0180 makes the server compress webhook payloads with it;
// on one without, the migration was skipped and the store still opened.
// A payload reads back byte for byte either way.
func TestInboxPayloadsAreCompressedWithLZ4(t *testing.T) {
	storetest.RunOn(t, storetest.Postgres, func(t *testing.T) {
		ctx := context.Background()
		s, _, _ := newInboxStore(t)
		_, lz4Err := s.DB().ExecContext(ctx, `SET default_toast_compression = lz4`)
		want := "l" // pg_attribute.attcompression: lz4
		if lz4Err != nil {
			want = "" // the server's default (pglz)
		}
		var got string
		if err := s.DB().QueryRowContext(ctx, `SELECT attcompression::text FROM pg_attribute
			WHERE attrelid = 'inbox'::regclass AND attname = 'payload'`).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("inbox.payload compression %q, want %q (lz4 available: %v)", got, want, lz4Err == nil)
		}
		payload := []byte(strings.Repeat(`{"repository":{"full_name":"acme/api"},"sender":{"login":"octocat"}}`, 300))
		if _, err := s.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: "big", EventType: "push", Payload: payload}); err != nil {
			t.Fatal(err)
		}
		var stored []byte
		var method sql.NullString
		if err := s.DB().QueryRowContext(ctx, `SELECT payload, pg_column_compression(payload) FROM inbox WHERE delivery_id = 'big'`).Scan(&stored, &method); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(stored, payload) {
			t.Errorf("payload read back differs (%d bytes, want %d)", len(stored), len(payload))
		}
		if want == "l" && method.String != "lz4" {
			t.Errorf("stored payload compressed with %q, want lz4", method.String)
		}
	})
}
