package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// TakeRefusalSlot counts one refusal of key in its current window and
// reports whether it is within max. A window starts at the first refusal
// after the previous one ended and lasts window; windows that ended are
// deleted as they are met. One transaction: two processes counting the
// same key at once both count.
func (s *Store) TakeRefusalSlot(ctx context.Context, key string, now time.Time, window time.Duration, max int) (bool, error) {
	if key == "" || window <= 0 {
		return false, fmt.Errorf("refusal limit: key and window are required")
	}
	var used int
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM refusal_limits WHERE window_start <= ?`,
			now.Add(-window).UnixNano()); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO refusal_limits (key, window_start, used) VALUES (?, ?, 1)
			ON CONFLICT (key) DO UPDATE SET used = refusal_limits.used + 1 RETURNING used`,
			key, now.UnixNano()).Scan(&used)
	})
	if err != nil {
		return false, fmt.Errorf("refusal limit of %s: %w", key, err)
	}
	return used <= max, nil
}

// RefusalsExhausted reports, without counting, whether key has used max
// refusals in its current window.
func (s *Store) RefusalsExhausted(ctx context.Context, key string, now time.Time, window time.Duration, max int) (bool, error) {
	var used int
	err := s.db.QueryRowContext(ctx, `SELECT used FROM refusal_limits WHERE key = ? AND window_start > ?`,
		key, now.Add(-window).UnixNano()).Scan(&used)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("refusal limit of %s: %w", key, err)
	}
	return used >= max, nil
}
