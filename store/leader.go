package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Leader leases elect the one replica that runs a singleton job, in the
// shape of riverqueue's elector (internal/leadership): a row per lease
// name, taken when free or expired, renewed by its holder well before it
// expires, deleted when its holder stops. The holder must stop the job
// when it cannot renew in time (server/replica.go does, a third of a
// lease before expiry). Expiry is judged on the wall clock.

// LeaderLease is one holding of a leader lease.
type LeaderLease struct {
	Name   string
	Holder string
	// Term grows with every election: a fencing token for the holding.
	Term      int64
	ElectedAt time.Time
	ExpiresAt time.Time
}

// TryLead takes lease name for holder until `until` when nobody holds it
// or its holding expired. elected is false when another holder has it; the
// holding is returned either way (Holder "" when the lease was never taken).
func (s *Store) TryLead(ctx context.Context, name, holder string, until time.Time) (l LeaderLease, elected bool, err error) {
	now := s.wall()
	err = s.WithTx(ctx, func(tx *sql.Tx) error {
		// An expired or missing row is (re)written with the next term;
		// a live one of another holder stays (the WHERE refuses it).
		row := tx.QueryRowContext(ctx, `INSERT INTO leader_leases (name, holder, term, elected_at, expires_at)
			VALUES (?, ?, 1, ?, ?)
			ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, term = leader_leases.term + 1,
				elected_at = excluded.elected_at, expires_at = excluded.expires_at
			WHERE leader_leases.expires_at <= ?
			RETURNING term`, name, holder, now.UnixNano(), nanos(until), now.UnixNano())
		var term int64
		switch err := row.Scan(&term); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			elected = true
		}
		var got error
		l, got = leaderLease(ctx, tx, name)
		return got
	})
	if err != nil {
		return LeaderLease{}, false, fmt.Errorf("leader lease %s for %s: %w", name, holder, err)
	}
	return l, elected && l.Holder == holder, nil
}

// KeepLead renews the holding (holder, term) of lease name until `until`.
// kept is false when it was lost: it expired and someone else took it, or
// it was given up.
func (s *Store) KeepLead(ctx context.Context, name, holder string, term int64, until time.Time) (kept bool, err error) {
	err = s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE leader_leases SET expires_at = ?
			WHERE name = ? AND holder = ? AND term = ? AND expires_at > ?`, nanos(until), name, holder, term, s.wall().UnixNano())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		kept = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("renew leader lease %s of %s: %w", name, holder, err)
	}
	return kept, nil
}

// Resign gives up the holding (holder, term) of lease name, so another
// replica can take it at once, and wakes the others.
func (s *Store) Resign(ctx context.Context, name, holder string, term int64) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM leader_leases WHERE name = ? AND holder = ? AND term = ?`, name, holder, term)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return s.wake(ctx, tx, WakeLeader)
	})
	if err != nil {
		return fmt.Errorf("give up leader lease %s of %s: %w", name, holder, err)
	}
	return nil
}

// Leader returns the holding of lease name; Holder is "" when nobody
// holds it now.
func (s *Store) Leader(ctx context.Context, name string) (LeaderLease, error) {
	l, err := leaderLease(ctx, s.db, name)
	if err != nil {
		return LeaderLease{}, fmt.Errorf("leader lease %s: %w", name, err)
	}
	if !l.ExpiresAt.After(s.wall()) {
		l.Holder = ""
	}
	return l, nil
}

func leaderLease(ctx context.Context, q queryer, name string) (LeaderLease, error) {
	l := LeaderLease{Name: name}
	var elected, expires int64
	err := q.QueryRowContext(ctx, `SELECT holder, term, elected_at, expires_at FROM leader_leases WHERE name = ?`, name).
		Scan(&l.Holder, &l.Term, &elected, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return l, nil
	}
	if err != nil {
		return LeaderLease{}, err
	}
	l.ElectedAt, l.ExpiresAt = fromNanos(elected), fromNanos(expires)
	return l, nil
}
