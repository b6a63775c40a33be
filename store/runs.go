package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tollgate-dev/tollgate/bot"
)

// Who runs a deploy. A request moving to running records this store's
// replica as its runner, in the same transaction; while that replica's
// heartbeat goes on, the deploy is its own. When the heartbeat stops (the
// process died, or lost the database), another replica finds the request
// among the OrphanedRuns and ends it interrupted (bot.Service.MarkInterrupted),
// a compare-and-swap on its state, so it ends exactly once.

// recordRun records the runner of a request that starts running, and wakes
// the other replicas' deploy workers when tx makes work for them: a
// request queued, or a deploy that ended (its environment is free again).
func (s *Store) recordRun(ctx context.Context, tx *sql.Tx, cur, next bot.Request) error {
	if next.State == bot.StateRunning && cur.State != bot.StateRunning {
		if _, err := tx.ExecContext(ctx, `UPDATE requests SET runner = ? WHERE id = ?`, s.replica, next.ID); err != nil {
			return fmt.Errorf("recording the runner of request %s: %w", next.ID, err)
		}
	}
	queued := next.State == bot.StateQueued && cur.State != bot.StateQueued
	ended := cur.State == bot.StateRunning && next.State != bot.StateRunning
	if queued || ended {
		return s.wake(ctx, tx, WakeDeploy)
	}
	return nil
}

// OrphanedRun is a running request whose runner is not alive.
type OrphanedRun struct {
	RequestID string
	Runner    string // "" when it started before runners were recorded
}

// OrphanedRuns lists the running requests whose runner is not a live
// replica (replicas.go) and not this store's own: their process died
// mid-deploy, or lost the database for longer than a lease.
func (s *Store) OrphanedRuns(ctx context.Context) ([]OrphanedRun, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, runner FROM requests
		WHERE state = 'running' AND runner <> ? AND NOT `+liveReplica("requests.runner")+` ORDER BY started_at, id`,
		s.replica, s.wall().UnixNano())
	if err != nil {
		return nil, fmt.Errorf("orphaned runs: %w", err)
	}
	var out []OrphanedRun
	for rows.Next() {
		var o OrphanedRun
		if err := rows.Scan(&o.RequestID, &o.Runner); err != nil {
			rows.Close()
			return nil, fmt.Errorf("orphaned runs: %w", err)
		}
		out = append(out, o)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("orphaned runs: %w", err)
	}
	return out, nil
}

// RunsOf lists the requests replica runs now.
func (s *Store) RunsOf(ctx context.Context, replica string) ([]string, error) {
	ids, err := queryStrings(ctx, s.db, `SELECT id FROM requests WHERE state = 'running' AND runner = ? ORDER BY started_at, id`, replica)
	if err != nil {
		return nil, fmt.Errorf("runs of replica %s: %w", replica, err)
	}
	return ids, nil
}
