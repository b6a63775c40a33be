package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

var _ bot.DriftStore = (*Store)(nil)

const driftColumns = `id, repo, environment, checked_at, request_id, release_name, manifest_digest, servers, alerted_at`

// RecordDriftCheck implements bot.DriftStore: the check and its audit
// entries in one transaction.
func (s *Store) RecordDriftCheck(ctx context.Context, c bot.DriftCheck, events []bot.AuditEvent) (int64, error) {
	servers, err := json.Marshal(c.Servers)
	if err != nil {
		return 0, fmt.Errorf("record drift check of %s %s: %w", c.Repo, c.Environment, err)
	}
	var id int64
	err = s.WithTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `INSERT INTO drift_checks (repo, environment, checked_at, request_id, release_name,
			manifest_digest, drifted, complete, servers, alerted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			c.Repo, c.Environment, nanos(c.CheckedAt), c.Expected.RequestID, c.Expected.Release, c.Expected.ManifestDigest,
			boolInt(c.Drifted()), boolInt(c.Complete()), string(servers), nanos(c.Alerted)).Scan(&id)
		if err != nil {
			return err
		}
		if len(events) == 0 {
			return nil
		}
		return s.appendEvents(ctx, tx, events)
	})
	if err != nil {
		return 0, fmt.Errorf("record drift check of %s %s: %w", c.Repo, c.Environment, err)
	}
	return id, nil
}

// LastDriftCheck implements bot.DriftStore.
func (s *Store) LastDriftCheck(ctx context.Context, repo, env string) (bot.DriftCheck, bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+driftColumns+` FROM drift_checks
		WHERE repo = ? AND environment = ? AND (complete = 1 OR drifted = 1) ORDER BY checked_at DESC, id DESC LIMIT 1`, repo, env)
	if err != nil {
		return bot.DriftCheck{}, false, fmt.Errorf("last drift check of %s %s: %w", repo, env, err)
	}
	list, err := scanDriftChecks(rows)
	if err != nil || len(list) == 0 {
		return bot.DriftCheck{}, false, err
	}
	return list[0], true, nil
}

// MarkDriftAlerted implements bot.DriftStore.
func (s *Store) MarkDriftAlerted(ctx context.Context, id int64, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE drift_checks SET alerted_at = ? WHERE id = ?`, nanos(at), id)
	if err == nil {
		var n int64
		if n, err = res.RowsAffected(); err == nil && n == 0 {
			err = fmt.Errorf("no such check: %w", bot.ErrNotFound)
		}
	}
	if err != nil {
		return fmt.Errorf("mark drift check %d alerted: %w", id, err)
	}
	return nil
}

// LatestDriftChecks returns the newest check of every environment that
// was checked, by repository and environment.
func (s *Store) LatestDriftChecks(ctx context.Context) ([]bot.DriftCheck, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+driftColumns+` FROM drift_checks d
		WHERE id = (SELECT id FROM drift_checks x WHERE x.repo = d.repo AND x.environment = d.environment
			ORDER BY checked_at DESC, id DESC LIMIT 1)
		ORDER BY repo, environment`)
	if err != nil {
		return nil, fmt.Errorf("latest drift checks: %w", err)
	}
	return scanDriftChecks(rows)
}

// DriftedChecks returns the checks that found drift in [from, to), oldest
// first: the evidence pack's exceptions.
func (s *Store) DriftedChecks(ctx context.Context, from, to time.Time) ([]bot.DriftCheck, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+driftColumns+` FROM drift_checks
		WHERE drifted = 1 AND checked_at >= ? AND checked_at < ? ORDER BY checked_at, id`, nanos(from), nanos(to))
	if err != nil {
		return nil, fmt.Errorf("drifted checks: %w", err)
	}
	return scanDriftChecks(rows)
}

func scanDriftChecks(rows *sql.Rows) ([]bot.DriftCheck, error) {
	defer rows.Close()
	var out []bot.DriftCheck
	for rows.Next() {
		var c bot.DriftCheck
		var checked, alerted int64
		var servers string
		if err := rows.Scan(&c.ID, &c.Repo, &c.Environment, &checked, &c.Expected.RequestID, &c.Expected.Release,
			&c.Expected.ManifestDigest, &servers, &alerted); err != nil {
			return nil, fmt.Errorf("read drift check: %w", err)
		}
		c.CheckedAt, c.Alerted = fromNanos(checked), fromNanos(alerted)
		if err := json.Unmarshal([]byte(servers), &c.Servers); err != nil {
			return nil, fmt.Errorf("read drift check %d: servers: %w", c.ID, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read drift checks: %w", err)
	}
	return out, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
