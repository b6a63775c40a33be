package backoff_test

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/backoff"
)

func TestJitteredStaysWithinHalfAndWhole(t *testing.T) {
	b := backoff.Jittered(backoff.Exponential(time.Second, 8*time.Second))
	for attempt, whole := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 9: 8 * time.Second} {
		for range 200 {
			if d := b(attempt); d < whole/2 || d > whole {
				t.Fatalf("attempt %d waited %s, want within [%s, %s]", attempt, d, whole/2, whole)
			}
		}
	}
}
