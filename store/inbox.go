package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/tollgate-dev/tollgate/internal/inbox"
)

// Inbox states.
const (
	InboxPending = "pending"
	InboxDone    = "done"
	InboxFailed  = "failed"
)

// InboxItem is one webhook delivery kept until it has been processed: the
// inbox port's Item, which the transports use without importing store.
type InboxItem = inbox.Item

// InboxLease is one claim of an inbox item (the inbox port's Lease).
type InboxLease = inbox.Lease

// InboxCounts is the number of items per state that needs attention.
type InboxCounts struct {
	Pending int
	Failed  int
}

// ErrInboxItemNotFound is returned when marking an item that does not exist.
var ErrInboxItemNotFound = errors.New("inbox item not found")

// ErrInboxLeaseLost is returned when marking an item through a lease that
// is no longer its latest claim (its lease ran out, or its replica was
// taken for dead, and another worker claimed it) or that was already used:
// nothing was changed, the item is the later claimer's. It is the inbox
// port's ErrLeaseLost, which the worker handles.
var ErrInboxLeaseLost = inbox.ErrLeaseLost

// Enqueue stores a delivery as pending and due now (ReceivedAt defaults to
// the store clock). A delivery id already stored for the same source is a
// redelivery: duplicate is true and nothing changes.
func (s *Store) Enqueue(ctx context.Context, it InboxItem) (duplicate bool, err error) {
	if it.Source != "github" && it.Source != "slack" {
		return false, fmt.Errorf("enqueue delivery %q: unknown source %q", it.DeliveryID, it.Source)
	}
	if it.DeliveryID == "" {
		return false, fmt.Errorf("enqueue %s %s delivery: missing delivery id", it.Source, it.EventType)
	}
	if it.ReceivedAt.IsZero() {
		it.ReceivedAt = s.now()
	}
	if it.Payload == nil {
		it.Payload = []byte{}
	}
	err = s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO inbox (source, delivery_id, event_type, payload, received_at, next_attempt_at)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, delivery_id) DO NOTHING`,
			it.Source, it.DeliveryID, it.EventType, it.Payload, it.ReceivedAt.UnixNano(), it.ReceivedAt.UnixNano())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if duplicate = n == 0; duplicate {
			return nil
		}
		return s.wake(ctx, tx, WakeInbox)
	})
	if err != nil {
		return false, fmt.Errorf("enqueue %s delivery %s: %w", it.Source, it.DeliveryID, err)
	}
	return duplicate, nil
}

// ClaimDue leases up to limit pending items that are due at now, oldest
// first, for this store's replica (Options.Replica), counts the attempt and
// hands each out with a new fencing token (InboxItem.Lease). A leased item
// is not handed out again until its lease (Options.InboxLease) runs out or
// the replica holding it stops heartbeating (replicas.go), so two workers
// never hold the same item, and the items of a process that died become
// due again. On PostgreSQL claimers in several processes skip each other's
// rows (FOR UPDATE SKIP LOCKED) instead of queueing behind them. The claim
// is one statement, run as a transaction of its own (oneStatement).
func (s *Store) ClaimDue(ctx context.Context, now time.Time, limit int) ([]InboxItem, error) {
	var items []InboxItem
	err := s.oneStatement(ctx, func(q statements) error {
		rows, err := q.QueryContext(ctx, s.dialect.claimDueSQL(), now.UnixNano(), limit, now.Add(s.lease).UnixNano(),
			s.replica, s.wall().UnixNano())
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			it, err := scanInboxItem(rows.Scan)
			if err != nil {
				return err
			}
			items = append(items, it)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim due inbox items: %w", err)
	}
	// RETURNING comes in no particular order.
	sort.Slice(items, func(i, j int) bool {
		if !items[i].NextAttemptAt.Equal(items[j].NextAttemptAt) {
			return items[i].NextAttemptAt.Before(items[j].NextAttemptAt)
		}
		return items[i].ID < items[j].ID
	})
	return items, nil
}

// claimDueSQL leases the due items in one statement and returns them
// (inboxColumns): ?1 is now, ?2 the limit, ?3 the end of the lease, ?4 the
// claiming replica, ?5 the wall-clock time liveness is judged at. An item
// is due when its lease ran out, or when the replica holding it is no
// longer alive (an unnamed holder, a store serving no replica, only by
// its lease). The PostgreSQL form is the shape of riverqueue's
// JobGetAvailable: a CTE that locks the oldest due rows no other
// transaction holds, and an UPDATE … FROM it. SQLite's single writer needs
// no row locks.
func (d dialect) claimDueSQL() string {
	const set = `lease_until = ?3, attempts = attempts + 1, lease_token = lease_token + 1, lease_owner = ?4`
	const due = `state = 'pending' AND next_attempt_at <= ?1 AND (lease_until <= ?1 OR (lease_owner <> '' AND
		NOT EXISTS (SELECT 1 FROM replicas rl WHERE rl.id = inbox.lease_owner AND rl.expires_at > ?5)))
		ORDER BY next_attempt_at, id LIMIT ?2`
	if d.postgres {
		return `WITH due AS (SELECT id AS due_id FROM inbox WHERE ` + due + ` FOR UPDATE SKIP LOCKED)
			UPDATE inbox SET ` + set + ` FROM due WHERE id = due.due_id RETURNING ` + inboxColumns
	}
	return `UPDATE inbox SET ` + set + ` WHERE id IN (SELECT id FROM inbox WHERE ` + due + `) RETURNING ` + inboxColumns
}

// MarkDone records that the item was processed, if l is still its latest
// claim (else ErrInboxLeaseLost, and nothing changes).
func (s *Store) MarkDone(ctx context.Context, l InboxLease) error {
	return s.markInbox(ctx, l, "done", `UPDATE inbox SET state = 'done', lease_until = 0, last_error = ''
		WHERE id = ? AND lease_token = ? AND state = 'pending'`, l.ID, l.Token)
}

// MarkRetry records a failed attempt and makes the item due again at
// nextAt, if l is still its latest claim (else ErrInboxLeaseLost).
func (s *Store) MarkRetry(ctx context.Context, l InboxLease, cause error, nextAt time.Time) error {
	return s.markInbox(ctx, l, "retry", `UPDATE inbox SET state = 'pending', lease_until = 0, last_error = ?, next_attempt_at = ?
		WHERE id = ? AND lease_token = ? AND state = 'pending'`, errText(cause), nextAt.UnixNano(), l.ID, l.Token)
}

// MarkFailed gives up on the item, if l is still its latest claim (else
// ErrInboxLeaseLost); it stays in the inbox for an operator.
func (s *Store) MarkFailed(ctx context.Context, l InboxLease, cause error) error {
	return s.markInbox(ctx, l, "failed", `UPDATE inbox SET state = 'failed', lease_until = 0, last_error = ?
		WHERE id = ? AND lease_token = ? AND state = 'pending'`, errText(cause), l.ID, l.Token)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// markInbox runs one compare-and-swap on the lease and, when it changed
// nothing, says why.
func (s *Store) markInbox(ctx context.Context, l InboxLease, what, query string, args ...any) error {
	err := s.oneStatement(ctx, func(q statements) error {
		res, err := q.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil || n > 0 {
			return err
		}
		var token int64
		var state string
		err = q.QueryRowContext(ctx, `SELECT lease_token, state FROM inbox WHERE id = ?`, l.ID).Scan(&token, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrInboxItemNotFound
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("lease %d, item now %s with lease %d: %w", l.Token, state, token, ErrInboxLeaseLost)
	})
	if err != nil {
		return fmt.Errorf("mark inbox item %d %s: %w", l.ID, what, err)
	}
	return nil
}

// Counts returns how many items are pending and how many failed.
func (s *Store) Counts(ctx context.Context) (InboxCounts, error) {
	var c InboxCounts
	err := s.db.QueryRowContext(ctx, `SELECT
		count(CASE WHEN state = 'pending' THEN 1 END), count(CASE WHEN state = 'failed' THEN 1 END) FROM inbox`).Scan(&c.Pending, &c.Failed)
	if err != nil {
		return InboxCounts{}, fmt.Errorf("count inbox items: %w", err)
	}
	return c, nil
}

// InboxItem returns the item with the given id.
func (s *Store) InboxItem(ctx context.Context, id int64) (InboxItem, error) {
	it, err := scanInboxItem(s.db.QueryRowContext(ctx, `SELECT `+inboxColumns+` FROM inbox WHERE id = ?`, id).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return InboxItem{}, fmt.Errorf("inbox item %d: %w", id, ErrInboxItemNotFound)
	}
	if err != nil {
		return InboxItem{}, fmt.Errorf("read inbox item %d: %w", id, err)
	}
	return it, nil
}

const inboxColumns = `id, source, delivery_id, event_type, payload, received_at, state, attempts, next_attempt_at, last_error, lease_token`

func scanInboxItem(scan func(dest ...any) error) (InboxItem, error) {
	var it InboxItem
	var received, next int64
	if err := scan(&it.ID, &it.Source, &it.DeliveryID, &it.EventType, &it.Payload, &received, &it.State, &it.Attempts,
		&next, &it.LastError, &it.LeaseToken); err != nil {
		return InboxItem{}, err
	}
	it.ReceivedAt = time.Unix(0, received).UTC()
	it.NextAttemptAt = time.Unix(0, next).UTC()
	return it, nil
}
