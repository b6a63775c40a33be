package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// InboxCounts is the number of items per state that needs attention.
type InboxCounts struct {
	Pending int
	Failed  int
}

// ErrInboxItemNotFound is returned when marking an item that does not exist.
var ErrInboxItemNotFound = errors.New("inbox item not found")

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
		duplicate = n == 0
		return err
	})
	if err != nil {
		return false, fmt.Errorf("enqueue %s delivery %s: %w", it.Source, it.DeliveryID, err)
	}
	return duplicate, nil
}

// ClaimDue leases up to limit pending items that are due at now, oldest
// first, and counts the attempt. A leased item is not handed out again until
// its lease (Options.InboxLease) runs out, so two workers never hold the
// same item, and the items of a process that died become due again.
func (s *Store) ClaimDue(ctx context.Context, now time.Time, limit int) ([]InboxItem, error) {
	var items []InboxItem
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+inboxColumns+` FROM inbox
			WHERE state = 'pending' AND next_attempt_at <= ?1 AND lease_until <= ?1
			ORDER BY next_attempt_at, id LIMIT ?2`, now.UnixNano(), limit)
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
		if err := rows.Err(); err != nil {
			return err
		}
		rows.Close()
		until := now.Add(s.lease).UnixNano()
		for i := range items {
			if _, err := tx.ExecContext(ctx, `UPDATE inbox SET lease_until = ?, attempts = attempts + 1 WHERE id = ?`, until, items[i].ID); err != nil {
				return err
			}
			items[i].Attempts++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim due inbox items: %w", err)
	}
	return items, nil
}

// MarkDone records that item id was processed.
func (s *Store) MarkDone(ctx context.Context, id int64) error {
	return s.markInbox(ctx, id, "done", `UPDATE inbox SET state = 'done', lease_until = 0, last_error = '' WHERE id = ?`, id)
}

// MarkRetry records a failed attempt and makes item id due again at nextAt.
func (s *Store) MarkRetry(ctx context.Context, id int64, cause error, nextAt time.Time) error {
	return s.markInbox(ctx, id, "retry", `UPDATE inbox SET state = 'pending', lease_until = 0, last_error = ?, next_attempt_at = ? WHERE id = ?`,
		errText(cause), nextAt.UnixNano(), id)
}

// MarkFailed gives up on item id; it stays in the inbox for an operator.
func (s *Store) MarkFailed(ctx context.Context, id int64, cause error) error {
	return s.markInbox(ctx, id, "failed", `UPDATE inbox SET state = 'failed', lease_until = 0, last_error = ? WHERE id = ?`,
		errText(cause), id)
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func (s *Store) markInbox(ctx context.Context, id int64, what, query string, args ...any) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, query, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err == nil && n == 0 {
			err = ErrInboxItemNotFound
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("mark inbox item %d %s: %w", id, what, err)
	}
	return nil
}

// Counts returns how many items are pending and how many failed.
func (s *Store) Counts(ctx context.Context) (InboxCounts, error) {
	var c InboxCounts
	err := s.db.QueryRowContext(ctx, `SELECT
		coalesce(sum(state = 'pending'), 0), coalesce(sum(state = 'failed'), 0) FROM inbox`).Scan(&c.Pending, &c.Failed)
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

const inboxColumns = `id, source, delivery_id, event_type, payload, received_at, state, attempts, next_attempt_at, last_error`

func scanInboxItem(scan func(dest ...any) error) (InboxItem, error) {
	var it InboxItem
	var received, next int64
	if err := scan(&it.ID, &it.Source, &it.DeliveryID, &it.EventType, &it.Payload, &received, &it.State, &it.Attempts, &next, &it.LastError); err != nil {
		return InboxItem{}, err
	}
	it.ReceivedAt = time.Unix(0, received).UTC()
	it.NextAttemptAt = time.Unix(0, next).UTC()
	return it, nil
}
