package store

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestRefusalLimits: a key gets max refusals per window, the rest are
// over the limit; the count survives reopening the database (a restart),
// and a new window starts once the last one ended.
func TestRefusalLimits(t *testing.T) { storetest.Run(t, testRefusalLimits) }

func testRefusalLimits(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{})
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	const max, window = 3, time.Hour
	take := func(s *Store, key string, at time.Time) bool {
		t.Helper()
		ok, err := s.TakeRefusalSlot(ctx, key, at, window, max)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	exhausted := func(s *Store, key string, at time.Time) bool {
		t.Helper()
		x, err := s.RefusalsExhausted(ctx, key, at, window, max)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	for i := range max {
		if exhausted(s, "github:7", t0) || !take(s, "github:7", t0.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("refusal %d refused within the limit", i+1)
		}
	}
	if !exhausted(s, "github:7", t0.Add(5*time.Minute)) || take(s, "github:7", t0.Add(5*time.Minute)) {
		t.Fatal("a refusal over the limit was allowed")
	}
	if exhausted(s, "github:8", t0) || !take(s, "github:8", t0) {
		t.Fatal("another person shares the first one's limit")
	}
	s.Close()
	s2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if !exhausted(s2, "github:7", t0.Add(10*time.Minute)) {
		t.Fatal("the limit did not survive a restart")
	}
	if exhausted(s2, "github:7", t0.Add(window+time.Second)) || !take(s2, "github:7", t0.Add(window+time.Second)) {
		t.Fatal("a new window did not start after the last ended")
	}
}
