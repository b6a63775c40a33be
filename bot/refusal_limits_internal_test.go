package bot

import (
	"testing"
	"time"
)

// TestTokenBucketBoundsOutsiderLines: a burst, then one line per interval.
func TestTokenBucketBoundsOutsiderLines(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	b := newTokenBucket(3, time.Minute)
	for i := range 3 {
		if !b.take(t0) {
			t.Fatalf("token %d of the burst refused", i+1)
		}
	}
	if b.take(t0.Add(30 * time.Second)) {
		t.Fatal("a token before the interval passed")
	}
	if !b.take(t0.Add(61*time.Second)) || b.take(t0.Add(62*time.Second)) {
		t.Fatal("not exactly one token after an interval")
	}
	if b.take(t0) {
		t.Fatal("a clock going back refilled the bucket")
	}
}
