// Package backoff is the one retry schedule of Tollgate: exponential from
// a base to a ceiling, optionally jittered. The inbox, the outbox and the
// GitHub client's retries all use it.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Func returns how long to wait before the next attempt after attempt n
// (1 for the first) failed.
type Func func(attempt int) time.Duration

// Exponential doubles the wait from base with each attempt, up to ceiling.
func Exponential(base, ceiling time.Duration) Func {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt; i++ {
			d *= 2
			if d >= ceiling || d <= 0 { // d <= 0: overflow
				return ceiling
			}
		}
		return min(d, ceiling)
	}
}

// Jittered waits a random time in [d/2, d] for each d of f, so clients
// that failed together do not retry together.
func Jittered(f Func) Func {
	return func(attempt int) time.Duration {
		d := f(attempt)
		half := d / 2
		return half + rand.N(half+1)
	}
}
