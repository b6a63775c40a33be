package server

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/backoff"
	"github.com/tollgate-dev/tollgate/store"
)

// Outbox delivery schedule: a failed delivery is retried with exponential
// backoff from outboxRetryBase to outboxRetryCeiling; after outboxAttempts
// it is given up (logged, counted) so the request's later notifications go on.
const (
	outboxPoll         = 2 * time.Second
	outboxBatch        = 32
	outboxAttempts     = 12
	outboxRetryBase    = 2 * time.Second
	outboxRetryCeiling = 5 * time.Minute
	outboxCallBudget   = time.Minute
	// outboxClaim is how long a replica's claim on delivering a request's
	// notifications lasts (renewed while it delivers); a replica that
	// stops heartbeating loses its claims sooner (store.ClaimOutbox).
	outboxClaim = 5 * time.Minute
)

// outboxWorker delivers the notifications request transitions wrote to the
// outbox (bot.Notes, store.DueOutbox) to the external notifiers, each under
// a destination name ("github", "slack"). A request's notifications go in
// order; each destination gets each notification once: what it has is
// recorded in the database, so neither a retry nor a restart sends it twice.
type outboxWorker struct {
	locks        [64]sync.Mutex // per request (hashed): one delivery of a request at a time
	store        *store.Store
	destinations map[string]bot.Notifier
	backoff      backoff.Func
	now          func() time.Time
	log          *slog.Logger
	wake         chan struct{}
}

func newOutboxWorker(st *store.Store, dest map[string]bot.Notifier, now func() time.Time, log *slog.Logger) *outboxWorker {
	return &outboxWorker{store: st, destinations: dest, backoff: backoff.Exponential(outboxRetryBase, outboxRetryCeiling),
		now: now, log: log, wake: make(chan struct{}, 1)}
}

// Kick wakes Run now, without blocking.
func (w *outboxWorker) Kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (w *outboxWorker) Run(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := w.deliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Error("outbox", "err", err)
		}
		if n > 0 && err == nil {
			continue // a request's next notification may be due now
		}
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-time.After(outboxPoll):
		}
	}
}

// deliverDue delivers the notifications due now and returns how many it
// finished.
func (w *outboxWorker) deliverDue(ctx context.Context) (int, error) {
	items, err := w.store.DueOutbox(ctx, w.now(), outboxBatch)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, it := range items {
		if ctx.Err() != nil {
			return done, ctx.Err()
		}
		n, err := w.deliverRequest(ctx, it.RequestID)
		done += n
		if err != nil {
			return done, err
		}
	}
	return done, nil
}

// deliverRequest delivers a request's notifications that are due, in
// order, until none is left or one fails; it returns how many it
// finished. It holds the request's lock and reads what is due under it,
// so the worker and a transition's own goroutine (Now) never deliver the
// same notification twice; and it holds the request's claim in the
// database, so neither does another replica (a request another replica
// is delivering is skipped: it delivers what is due).
func (w *outboxWorker) deliverRequest(ctx context.Context, requestID string) (int, error) {
	lk := &w.locks[fnv32(requestID)%uint32(len(w.locks))]
	lk.Lock()
	defer lk.Unlock()
	claimedAt := time.Now()
	token, ok, err := w.store.ClaimOutbox(ctx, requestID, claimedAt.Add(outboxClaim))
	if err != nil || !ok {
		return 0, err
	}
	defer func() {
		if err := w.store.ReleaseOutbox(context.WithoutCancel(ctx), requestID, token); err != nil {
			w.log.Warn("outbox: releasing a claim (it runs out on its own)", "request", requestID, "err", err)
		}
	}()
	done := 0
	for ctx.Err() == nil {
		if time.Since(claimedAt) > outboxClaim/2 { // renew it before it can run out
			claimedAt = time.Now()
			if token, ok, err = w.store.ClaimOutbox(ctx, requestID, claimedAt.Add(outboxClaim)); err != nil || !ok {
				return done, err
			}
		}
		it, ok, err := w.store.NextOutboxOf(ctx, requestID, w.now())
		if err != nil || !ok {
			return done, err
		}
		finished, err := w.deliver(ctx, it)
		if err != nil || !finished {
			return done, err
		}
		done++
	}
	return done, ctx.Err()
}

// Now delivers requestID's due notifications at once, from the goroutine
// of the transition that wrote them: people see a notification as soon as
// before the outbox, and the outbox only adds the retries. A failure is
// left to the worker's retries.
func (w *outboxWorker) Now(ctx context.Context, requestID string) {
	if _, err := w.deliverRequest(context.WithoutCancel(ctx), requestID); err != nil {
		w.log.ErrorContext(ctx, "outbox", "request", requestID, "err", err)
	}
}

func fnv32(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

// deliver sends one notification to every destination that lacks it and
// records the outcome; it reports whether the notification is done. Its
// error is one of recording, not of delivering.
func (w *outboxWorker) deliver(ctx context.Context, it store.OutboxItem) (bool, error) {
	n := it.Notification
	var failures []error
	for _, name := range slices.Sorted(maps.Keys(w.destinations)) {
		if it.Delivered[name] {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, outboxCallBudget)
		err := w.destinations[name].Notify(cctx, n)
		cancel()
		if err != nil {
			failures = append(failures, fmt.Errorf("%s: %w", name, err))
			continue
		}
		if err := w.store.MarkOutboxDelivered(ctx, it.Seq, name); err != nil {
			return false, err
		}
	}
	if len(failures) == 0 {
		return true, w.store.FinishOutbox(ctx, it.Seq)
	}
	cause := errors.Join(failures...)
	attempt := it.Attempts + 1
	log := w.log.With("seq", it.Seq, "request", it.RequestID, "kind", string(n.Kind), "attempt", attempt)
	if attempt >= outboxAttempts {
		log.Error("notification given up after its retries", "err", cause)
		return true, w.store.GiveUpOutbox(ctx, it.Seq, cause)
	}
	next := w.now().Add(w.backoff(attempt))
	log.Warn("notification not delivered; it is retried", "err", cause, "next_attempt", next.UTC().Format(time.RFC3339))
	return false, w.store.RetryOutbox(ctx, it.Seq, cause, next)
}

// fromOutbox is an external notifier in Service's direct Notifier chain: it
// skips the notifications the outbox delivers (Durable) and takes the rest
// (reminders and reviews, which are not request transitions) directly.
type fromOutbox struct{ bot.Notifier }

// Notify implements bot.Notifier.
func (f fromOutbox) Notify(ctx context.Context, n bot.Notification) error {
	if n.Durable {
		return nil
	}
	return f.Notifier.Notify(ctx, n)
}

// deliverNow delivers what a transition wrote to the outbox right after
// its commit, from the transition's goroutine (the outbox worker retries
// what fails).
type deliverNow struct{ w *outboxWorker }

// Notify implements bot.Notifier.
func (d deliverNow) Notify(ctx context.Context, n bot.Notification) error {
	if n.Durable {
		d.w.Now(ctx, n.Request.ID)
	}
	return nil
}
