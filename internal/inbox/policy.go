package inbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/internal/backoff"
)

// Backoff returns how long to wait before the next attempt after attempt
// n (1 for the first) failed (internal/backoff, the one schedule).
type Backoff = backoff.Func

// Exponential doubles the wait from base with each attempt, up to ceiling.
func Exponential(base, ceiling time.Duration) Backoff { return backoff.Exponential(base, ceiling) }

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent marks err as not worth retrying (a payload that cannot be
// decoded, a delivery that contradicts itself): the worker marks the item
// failed at once. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// BySource routes items to a handler per source ("github", "slack"); an
// item from a source without a handler fails permanently.
func BySource(handlers map[string]Handler) Handler {
	return func(ctx context.Context, it Item) error {
		h, ok := handlers[it.Source]
		if !ok {
			return Permanent(fmt.Errorf("no handler for %s deliveries", it.Source))
		}
		return h(ctx, it)
	}
}
