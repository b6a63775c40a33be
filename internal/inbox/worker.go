// Package inbox processes stored webhook deliveries (GitHub, Slack) at
// least once: it claims due items from the store, hands each to a handler,
// and records the result. A handler error is retried with backoff; after
// MaxAttempts, or at once for a permanent error, the item is marked failed
// and stays in the store for an operator (tollgate doctor, metrics).
package inbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"
)

// Store is the part of the inbox storage the worker uses; *store.Store
// satisfies it.
type Store interface {
	ClaimDue(ctx context.Context, now time.Time, limit int) ([]Item, error)
	MarkDone(ctx context.Context, lease Lease) error
	MarkRetry(ctx context.Context, lease Lease, cause error, nextAt time.Time) error
	MarkFailed(ctx context.Context, lease Lease, cause error) error
}

// Handler processes one delivery. It must be idempotent: an item can be
// handed over again after a crash or a lost lease.
type Handler func(ctx context.Context, item Item) error

// Outcome is what became of one attempt, for metrics.
type Outcome string

// Attempt outcomes.
const (
	OutcomeDone   Outcome = "done"
	OutcomeRetry  Outcome = "retry"
	OutcomeFailed Outcome = "failed"
	// OutcomeLeaseLost: the attempt ended after another worker had claimed
	// the item again (a lease that ran out, a replica taken for dead); its
	// outcome is not recorded, the later claimer's will be.
	OutcomeLeaseLost Outcome = "lease_lost"
)

// Defaults used when the Worker's fields are zero.
const (
	DefaultMaxAttempts    = 8
	DefaultPollInterval   = 2 * time.Second
	DefaultBatchSize      = 16
	DefaultHandlerTimeout = time.Minute
)

// Worker drains the inbox. Set the fields before calling Run or
// ProcessDue; zero values take the defaults above.
type Worker struct {
	Store  Store
	Handle Handler
	// Backoff gives the wait before retry n (n = attempts so far, from 1);
	// nil means Exponential(5s, 10m).
	Backoff Backoff
	// MaxAttempts bounds the attempts of one item, the first included.
	MaxAttempts int
	// Clock decides what is due and when a retry is; nil means time.Now.
	Clock func() time.Time
	// PollInterval is how often Run looks for due items without a Kick.
	PollInterval time.Duration
	// BatchSize is how many items one claim takes.
	BatchSize int
	// HandlerTimeout bounds one attempt; keep it below the store's lease so
	// a slow attempt is not handed out twice.
	HandlerTimeout time.Duration
	Logger         *slog.Logger
	// Observe, when set, is called after each attempt (a metrics hook).
	Observe func(item Item, outcome Outcome, took time.Duration)

	once sync.Once
	wake chan struct{}
}

func (w *Worker) init() {
	w.once.Do(func() { w.wake = make(chan struct{}, 1) })
}

// Kick wakes Run now, typically right after an Enqueue, without blocking.
func (w *Worker) Kick() {
	w.init()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run processes due items until ctx ends, polling every PollInterval and
// at once after Kick. It returns nil when ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	w.init()
	if w.Store == nil || w.Handle == nil {
		return errors.New("inbox worker: Store and Handle are required")
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-w.wake:
		}
		for {
			n, err := w.ProcessDue(ctx)
			if err != nil && ctx.Err() == nil {
				w.logger().Error("processing the inbox", "err", err)
			}
			if err != nil || n < w.batchSize() || ctx.Err() != nil {
				break // a full batch means more may be due: go again at once
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(w.pollInterval())
	}
}

// ProcessDue claims the items due now (one batch), handles each, and
// records the outcome. It returns how many items it handled; the error
// joins the failures to claim or to record an outcome (handler errors are
// outcomes, not errors).
func (w *Worker) ProcessDue(ctx context.Context) (int, error) {
	if w.Store == nil || w.Handle == nil {
		return 0, errors.New("inbox worker: Store and Handle are required")
	}
	items, err := w.Store.ClaimDue(ctx, w.now(), w.batchSize())
	if err != nil {
		return 0, fmt.Errorf("claiming due inbox items: %w", err)
	}
	var errs []error
	for _, it := range items {
		if ctx.Err() != nil {
			// Unhandled claimed items become due again when their lease ends.
			break
		}
		if err := w.process(ctx, it); err != nil {
			errs = append(errs, err)
		}
	}
	return len(items), errors.Join(errs...)
}

// process runs one attempt and records its outcome.
func (w *Worker) process(ctx context.Context, it Item) error {
	log := w.logger().With("delivery", it.DeliveryID, "source", it.Source, "event", it.EventType,
		"inbox_id", it.ID, "attempt", it.Attempts)
	start := time.Now()
	herr := w.call(ctx, it)
	took := time.Since(start)

	// Record the outcome even when shutdown began after the attempt ended.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var outcome Outcome
	var err error
	switch {
	case herr == nil:
		outcome, err = OutcomeDone, w.Store.MarkDone(mctx, it.Lease())
		log.Debug("delivery processed", "took", took)
	case ctx.Err() != nil:
		// Shutting down: the attempt did not really happen; let the lease
		// run out so the item is retried after the restart.
		return nil
	case IsPermanent(herr):
		outcome, err = OutcomeFailed, w.Store.MarkFailed(mctx, it.Lease(), herr)
		log.Error("delivery failed permanently; left in the inbox", "err", herr)
	case it.Attempts >= w.maxAttempts():
		outcome, err = OutcomeFailed, w.Store.MarkFailed(mctx, it.Lease(), herr)
		log.Error("delivery failed after the last attempt; left in the inbox", "err", herr, "max_attempts", w.maxAttempts())
	default:
		next := w.now().Add(w.backoff()(it.Attempts))
		outcome, err = OutcomeRetry, w.Store.MarkRetry(mctx, it.Lease(), herr, next)
		log.Warn("delivery failed; will retry", "err", herr, "next_attempt_at", next)
	}
	if errors.Is(err, ErrLeaseLost) {
		// Handlers are idempotent, so the later claimer's attempt does no
		// harm twice; this one's outcome must not overwrite it.
		log.Warn("delivery lease lost before its outcome was recorded; the replica that claimed it again records it",
			"outcome", string(outcome), "err", err)
		outcome, err = OutcomeLeaseLost, nil
	}
	if w.Observe != nil {
		w.Observe(it, outcome, took)
	}
	if err != nil {
		return fmt.Errorf("recording %s of delivery %s: %w", outcome, it.DeliveryID, err)
	}
	return nil
}

// call runs the handler with a timeout and turns a panic into an error:
// no delivery may crash the process.
func (w *Worker) call(ctx context.Context, it Item) (err error) {
	ctx, cancel := context.WithTimeout(ctx, w.handlerTimeout())
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			w.logger().Error("handler panicked", "delivery", it.DeliveryID, "event", it.EventType,
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked on %s delivery %s: %v", it.EventType, it.DeliveryID, p)
		}
	}()
	return w.Handle(ctx, it)
}

func (w *Worker) now() time.Time {
	if w.Clock != nil {
		return w.Clock()
	}
	return time.Now()
}

func (w *Worker) logger() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (w *Worker) backoff() Backoff {
	if w.Backoff != nil {
		return w.Backoff
	}
	return Exponential(5*time.Second, 10*time.Minute)
}

func (w *Worker) maxAttempts() int { return orDefault(w.MaxAttempts, DefaultMaxAttempts) }
func (w *Worker) batchSize() int   { return orDefault(w.BatchSize, DefaultBatchSize) }
func (w *Worker) pollInterval() time.Duration {
	return orDefault(w.PollInterval, DefaultPollInterval)
}
func (w *Worker) handlerTimeout() time.Duration {
	return orDefault(w.HandlerTimeout, DefaultHandlerTimeout)
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
