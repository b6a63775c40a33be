package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// OutboxItem is one notification waiting in the outbox.
type OutboxItem struct {
	Seq          int64
	RequestID    string
	Notification bot.Notification
	Attempts     int
	// Delivered lists the destinations that have it already.
	Delivered map[string]bool
}

// queueNotes writes the notifications notes build from r to the outbox,
// inside the transaction tx of the transition that implies them.
func (s *Store) queueNotes(ctx context.Context, tx *sql.Tx, r bot.Request, notes []bot.Notes) error {
	now := s.now().UnixNano()
	for _, build := range notes {
		if build == nil {
			continue
		}
		for _, n := range build(r) {
			b, err := json.Marshal(n)
			if err != nil {
				return fmt.Errorf("outbox: encoding %s of request %s: %w", n.Kind, r.ID, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (request_id, kind, notification, created_at, next_attempt_at)
				VALUES (?, ?, ?, ?, ?)`, r.ID, string(n.Kind), b, now, now); err != nil {
				return fmt.Errorf("outbox: writing %s of request %s: %w", n.Kind, r.ID, err)
			}
		}
	}
	return nil
}

// DueOutbox returns, oldest first, the notifications due at now that are
// the next of their request: a request's later notifications wait until
// its earlier ones are done, so each destination sees them in order.
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxItem, error) {
	return s.dueOutbox(ctx, `SELECT o.seq, o.request_id, o.notification, o.attempts FROM outbox o
		WHERE o.done_at = 0 AND o.next_attempt_at <= ?
		AND o.seq = (SELECT min(p.seq) FROM outbox p WHERE p.request_id = o.request_id AND p.done_at = 0)
		ORDER BY o.seq LIMIT ?`, now.UnixNano(), limit)
}

// NextOutboxOf returns the next notification of requestID when it is due
// at now; ok is false when the request has none waiting, or its next one
// waits for a retry.
func (s *Store) NextOutboxOf(ctx context.Context, requestID string, now time.Time) (OutboxItem, bool, error) {
	items, err := s.dueOutbox(ctx, `SELECT o.seq, o.request_id, o.notification, o.attempts FROM outbox o
		WHERE o.request_id = ? AND o.done_at = 0 ORDER BY o.seq LIMIT 1`, requestID)
	if err != nil || len(items) == 0 {
		return OutboxItem{}, false, err
	}
	var next int64
	if err := s.db.QueryRowContext(ctx, `SELECT next_attempt_at FROM outbox WHERE seq = ?`, items[0].Seq).Scan(&next); err != nil {
		return OutboxItem{}, false, fmt.Errorf("outbox: reading notification %d: %w", items[0].Seq, err)
	}
	if next > now.UnixNano() {
		return OutboxItem{}, false, nil
	}
	return items[0], true, nil
}

func (s *Store) dueOutbox(ctx context.Context, query string, args ...any) ([]OutboxItem, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("outbox: reading due notifications: %w", err)
	}
	var out []OutboxItem
	for rows.Next() {
		var it OutboxItem
		var raw []byte
		if err := rows.Scan(&it.Seq, &it.RequestID, &raw, &it.Attempts); err != nil {
			rows.Close()
			return nil, fmt.Errorf("outbox: reading due notifications: %w", err)
		}
		if err := json.Unmarshal(raw, &it.Notification); err != nil {
			rows.Close()
			return nil, fmt.Errorf("outbox: decoding notification %d: %w", it.Seq, err)
		}
		it.Notification.Durable = true
		out = append(out, it)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("outbox: reading due notifications: %w", err)
	}
	for i := range out {
		if out[i].Delivered, err = s.outboxDelivered(ctx, out[i].Seq); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) outboxDelivered(ctx context.Context, seq int64) (map[string]bool, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT destination FROM outbox_deliveries WHERE seq = ?`, seq)
	if err != nil {
		return nil, fmt.Errorf("outbox: deliveries of %d: %w", seq, err)
	}
	defer rows.Close()
	done := map[string]bool{}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("outbox: deliveries of %d: %w", seq, err)
		}
		done[d] = true
	}
	return done, rows.Err()
}

// MarkOutboxDelivered records that destination has notification seq.
func (s *Store) MarkOutboxDelivered(ctx context.Context, seq int64, destination string) error {
	return s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO outbox_deliveries (seq, destination, delivered_at) VALUES (?, ?, ?)
			ON CONFLICT (seq, destination) DO NOTHING`, seq, destination, s.now().UnixNano())
		if err != nil {
			return fmt.Errorf("outbox: marking %d delivered to %s: %w", seq, destination, err)
		}
		return nil
	})
}

// FinishOutbox marks notification seq done: every destination has it.
func (s *Store) FinishOutbox(ctx context.Context, seq int64) error {
	return s.outboxUpdate(ctx, seq, `UPDATE outbox SET done_at = ? WHERE seq = ?`, s.now().UnixNano(), seq)
}

// RetryOutbox records a failed attempt of notification seq and when to try again.
func (s *Store) RetryOutbox(ctx context.Context, seq int64, cause error, next time.Time) error {
	return s.outboxUpdate(ctx, seq, `UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE seq = ?`,
		next.UnixNano(), errText(cause), seq)
}

// GiveUpOutbox marks notification seq failed after its last attempt; the
// request's later notifications go on.
func (s *Store) GiveUpOutbox(ctx context.Context, seq int64, cause error) error {
	return s.outboxUpdate(ctx, seq, `UPDATE outbox SET attempts = attempts + 1, done_at = ?, failed = 1, last_error = ? WHERE seq = ?`,
		s.now().UnixNano(), errText(cause), seq)
}

func (s *Store) outboxUpdate(ctx context.Context, seq int64, query string, args ...any) error {
	return s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return fmt.Errorf("outbox: updating %d: %w", seq, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("outbox: notification %d not found", seq)
		}
		return nil
	})
}

// OutboxCounts returns how many notifications wait and how many were given up.
func (s *Store) OutboxCounts(ctx context.Context) (pending, failed int, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT
		count(CASE WHEN done_at = 0 THEN 1 END),
		count(CASE WHEN failed = 1 THEN 1 END) FROM outbox`).Scan(&pending, &failed)
	if err != nil {
		return 0, 0, fmt.Errorf("outbox: counting: %w", err)
	}
	return pending, failed, nil
}

// ClaimOutbox claims the delivery of requestID's notifications for this
// store's replica until `until` (wall clock): replicas deliver a request's
// notifications one at a time, in order. ok is false when another live
// replica holds an unexpired claim; token names the claim for
// ReleaseOutbox. A claim of this same replica is taken again (its
// goroutines take turns through the outbox worker's own lock). On SQLite,
// which one process serves (RegisterReplica), that lock is enough: the
// claim is granted without a write.
func (s *Store) ClaimOutbox(ctx context.Context, requestID string, until time.Time) (token int64, ok bool, err error) {
	if !s.dialect.postgres {
		return 0, true, nil
	}
	err = s.WithTx(ctx, func(tx *sql.Tx) error {
		now := s.wall().UnixNano()
		err := tx.QueryRowContext(ctx, `INSERT INTO outbox_claims (request_id, owner, token, until) VALUES (?, ?, 1, ?)
			ON CONFLICT (request_id) DO UPDATE SET owner = excluded.owner, token = outbox_claims.token + 1, until = excluded.until
			WHERE outbox_claims.owner = excluded.owner OR outbox_claims.until <= ? OR NOT `+liveReplica("outbox_claims.owner")+`
			RETURNING token`, requestID, s.replica, nanos(until), now, now).Scan(&token)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		ok = err == nil
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("outbox: claiming the notifications of request %s: %w", requestID, err)
	}
	return token, ok, nil
}

// ReleaseOutbox ends claim token of requestID's notifications.
func (s *Store) ReleaseOutbox(ctx context.Context, requestID string, token int64) error {
	if !s.dialect.postgres {
		return nil
	}
	return s.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM outbox_claims WHERE request_id = ? AND token = ?`, requestID, token); err != nil {
			return fmt.Errorf("outbox: releasing the claim on request %s: %w", requestID, err)
		}
		return nil
	})
}
