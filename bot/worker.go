package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Queueing decision: one deploy runs per repository and environment at a
// time; later requests wait in FIFO order of the time they were queued
// (approved), not refused. A unique index in the store backs this up, so
// two workers, or two processes on one database, cannot both start a
// deploy on the same environment. Different environments run in parallel.

// ProcessNext starts the oldest runnable queued request and runs it to its
// end. It returns false when nothing was runnable.
func (s *Service) ProcessNext(ctx context.Context) (bool, error) {
	next, err := s.store.NextRunnable(ctx)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("finding the next queued request: %w", err)
	}
	check, err := s.recheckAtStart(ctx, &next)
	if err != nil {
		return false, err // fail closed: do not start without fresh facts
	}
	out := &outboxed{build: one(NotifyStateChanged, Identity{})}
	started, err := s.store.UpdateRequest(ctx, next.ID, func(cur *Request) ([]AuditEvent, error) {
		if cur.State != StateQueued || cur.Version != next.Version {
			return nil, errSkip // changed since the recheck: look again
		}
		return s.applyStart(cur, check, s.now().UTC())
	}, out.Notes)
	if errors.Is(err, errSkip) || errors.Is(err, ErrConflict) {
		return true, nil // another worker took it, or its environment got busy: look again
	}
	if err != nil {
		return false, fmt.Errorf("starting request %s: %w", next.ID, err)
	}
	s.deliver(ctx, out, started)
	if started.State != StateRunning {
		return true, nil
	}
	return true, s.run(ctx, started)
}

// run calls the Deployer and records how the deploy ended.
func (s *Service) run(ctx context.Context, r Request) error {
	job := DeployJob{RequestID: r.ID, Repo: r.Repo, Environment: r.Environment, Ref: r.Ref, SHA: r.SHA,
		Trigger: r.Trigger, Release: r.Release, ProtectionRule: r.ProtectionRule, Requester: r.Requester}
	begin := s.now()
	var out DeployOutcome
	var err error
	if r.Trigger == TriggerRollback {
		out, err = s.deployer.Rollback(ctx, job)
	} else {
		out, err = s.deployer.Deploy(ctx, job)
	}
	if out.Duration == 0 {
		out.Duration = s.now().Sub(begin)
	}
	final := StateSucceeded
	switch {
	case ctx.Err() != nil && err != nil:
		final = StateInterrupted
		out.Error = "interrupted: " + ctx.Err().Error()
	case errors.Is(err, ErrInterrupted):
		final = StateInterrupted
		out.Error = err.Error()
	case err != nil:
		final = StateFailed
		out.Result = ResultFailed
		if out.Error == "" {
			out.Error = err.Error()
		}
	case out.Result == ResultFailed:
		final = StateFailed
	case out.Result == ResultRolledBack:
		final = StateRolledBack
	case out.Result == "":
		out.Result = ResultSucceeded
	}
	// Record the result even when ctx was canceled by a shutdown.
	wctx := context.WithoutCancel(ctx)
	finished := &outboxed{build: one(NotifyFinished, Identity{})}
	done, uerr := s.store.UpdateRequest(wctx, r.ID, func(cur *Request) ([]AuditEvent, error) {
		return finishRun(cur, final, out, s.now().UTC())
	}, finished.Notes)
	if uerr != nil {
		return fmt.Errorf("recording the result of request %s (%s): %w", r.ID, final, uerr)
	}
	s.deliver(wctx, finished, done)
	if needsEmergencyReview(done) {
		s.openEmergencyReview(wctx, done)
	}
	if done.Trigger == TriggerRollback && done.State == StateSucceeded {
		s.lockAfterRollback(wctx, done)
	}
	return nil
}

// finishRun moves a running request to its final state. A deploy that
// failed and was switched back passes through failed to rolled_back, as
// the lifecycle draws it.
func finishRun(cur *Request, final State, out DeployOutcome, now time.Time) ([]AuditEvent, error) {
	if cur.State != StateRunning {
		return nil, fmt.Errorf("request %s is %s, not running", cur.ID, cur.State)
	}
	cur.Result = &out
	cur.FinishedAt = now
	reason := string(out.Result)
	if out.Error != "" {
		reason = out.Error
	}
	finished := AuditEvent{Actor: "tollgate", Action: ActionDeployFinished, Subject: cur.ID, Data: map[string]any{
		"repo": cur.Repo, "environment": cur.Environment, "sha": cur.SHA, "result": final,
		"release": out.Release, "manifest_digest": out.ManifestDigest, "files_sent": out.FilesSent,
		"bytes_sent": out.BytesSent, "servers": out.Servers, "duration_ms": out.Duration.Milliseconds(),
		"steps": out.Steps, "error": out.Error}}
	var events []AuditEvent
	if final == StateInterrupted {
		finished.Action = ActionDeployInterrupted
	}
	if final == StateRolledBack {
		finished.Data.(map[string]any)["result"] = StateFailed
		if err := cur.transition(StateFailed, reason); err != nil {
			return nil, err
		}
		events = append(events, finished, stateEvent(cur, StateRunning, "tollgate"))
		if err := cur.transition(StateRolledBack, "previous release restored after: "+reason); err != nil {
			return nil, err
		}
		return append(events, AuditEvent{Actor: "tollgate", Action: ActionDeployRolledBack, Subject: cur.ID,
			Data: map[string]any{"reason": reason}}, stateEvent(cur, StateFailed, "tollgate")), nil
	}
	if err := cur.transition(final, reason); err != nil {
		return nil, err
	}
	return append(events, finished, stateEvent(cur, StateRunning, "tollgate")), nil
}

// lockAfterRollback locks the environment for the person who rolled back,
// so the next merge does not redeploy the bad change (issue 6). Only an
// explicit rollback that succeeded does this: after an automatic one
// (health check failed, previous release restored) the bad release never
// went live and the next merge, typically the fix, should deploy; after a
// failed explicit one nothing was restored. See docs/lifecycle.md.
func (s *Service) lockAfterRollback(ctx context.Context, r Request) {
	now := s.now().UTC()
	l := Lock{Repo: r.Repo, Environment: r.Environment, Owner: r.Requester, CreatedAt: now,
		Reason: fmt.Sprintf("rolled back to %s by request %s; unlock when the fix is ready", short(r.SHA), r.ID)}
	_, _, err := s.store.AcquireLock(ctx, l, now, lockEvent(ActionLockAcquired, l, "automatic after rollback"))
	if err != nil {
		s.log.ErrorContext(ctx, "locking after rollback", slog.String("request", r.ID), slog.Any("err", err))
	}
}

// ProcessQueue runs queued requests until none is runnable and returns
// how many it handled.
func (s *Service) ProcessQueue(ctx context.Context) (int, error) {
	n := 0
	for ctx.Err() == nil {
		did, err := s.ProcessNext(ctx)
		if err != nil || !did {
			return n, err
		}
		n++
	}
	return n, ctx.Err()
}

// RunWorkers is the one scheduling loop: n workers, each taking the next
// runnable request, waking when something was queued or a deploy finished
// (Service kicks itself) or every poll interval. It returns when work ends
// and every worker has finished the deploy it was running. Each deploy runs
// under run, which may outlive work: a server stops taking work at once on
// shutdown and cancels run only after a grace period, so a deploy that
// started finishes rather than stopping half-way. Tests and the server run
// this same loop.
func (s *Service) RunWorkers(work, run context.Context, n int, poll time.Duration) {
	var wg sync.WaitGroup
	for range max(n, 1) {
		wg.Go(func() {
			for work.Err() == nil {
				did, err := s.ProcessNext(run)
				if err != nil {
					s.log.ErrorContext(run, "deploy worker", slog.Any("err", err))
				}
				if did && err == nil {
					s.kick() // there may be more for another worker
					continue
				}
				select {
				case <-work.Done():
				case <-s.wake:
				case <-time.After(poll):
				}
			}
		})
	}
	wg.Wait()
}

// RecoverInterrupted marks requests left running by a process that died as
// interrupted; call it at startup before starting workers, when this is the
// only process serving the database. Nothing is retried automatically: a
// half-finished deploy needs a person to look.
func (s *Service) RecoverInterrupted(ctx context.Context) (int, error) {
	rs, err := s.store.ListRequests(ctx, RequestFilter{States: []State{StateRunning}, Limit: 10000})
	if err != nil {
		return 0, fmt.Errorf("listing running requests: %w", err)
	}
	ids := make([]string, len(rs))
	for i, r := range rs {
		ids[i] = r.ID
	}
	return s.MarkInterrupted(ctx, ids, "the process stopped while the deploy ran")
}

// MarkInterrupted ends each of the requests ids that is still running as
// interrupted, saying why (reason goes into the request and its
// deploy.interrupted entry), and returns how many it ended. Each ending is
// a compare-and-swap on the request's state: of several processes ending
// the same request (replicas that found its runner dead), or its runner
// finishing it after all, exactly one wins; the others skip it.
func (s *Service) MarkInterrupted(ctx context.Context, ids []string, reason string) (int, error) {
	n := 0
	for _, id := range ids {
		finished := &outboxed{build: one(NotifyFinished, Identity{})}
		done, err := s.store.UpdateRequest(ctx, id, func(cur *Request) ([]AuditEvent, error) {
			if cur.State != StateRunning {
				return nil, errSkip
			}
			return finishRun(cur, StateInterrupted, DeployOutcome{Error: reason}, s.now().UTC())
		}, finished.Notes)
		if errors.Is(err, errSkip) || errors.Is(err, ErrConflict) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("marking request %s interrupted: %w", id, err)
		}
		n++
		s.deliver(ctx, finished, done)
		if needsEmergencyReview(done) {
			s.openEmergencyReview(ctx, done) // the crash may have left it live
		}
	}
	if n > 0 {
		s.kick() // their environments are free again
	}
	return n, nil
}
