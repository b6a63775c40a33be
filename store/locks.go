package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// Lock implements bot.LockStore. An expired lock is still returned (the
// domain decides with Lock.Active); it is replaced by the next AcquireLock.
func (s *Store) Lock(ctx context.Context, repo, env string) (*bot.Lock, error) {
	l, err := lockOf(ctx, s.db, repo, env)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lock of %s %s: %w", repo, env, err)
	}
	return &l, nil
}

type rowQueryerOne interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func lockOf(ctx context.Context, q rowQueryerOne, repo, env string) (bot.Lock, error) {
	l := bot.Lock{Repo: repo, Environment: env}
	var created, expires int64
	err := q.QueryRowContext(ctx, `SELECT owner_login, owner_id, owner_slack, reason, created_at, expires_at
		FROM env_locks WHERE repo = ? AND environment = ?`, repo, env).Scan(
		&l.Owner.Login, &l.Owner.GitHubID, &l.Owner.ChatUser, &l.Reason, &created, &expires)
	if err != nil {
		return bot.Lock{}, err
	}
	l.CreatedAt, l.ExpiresAt = fromNanos(created), fromNanos(expires)
	return l, nil
}

// acquireLockSQL takes a free lock or replaces an expired one (bot.Lock.Active
// is false once expires_at, if set, has passed): a compare-and-swap, so of
// two processes taking the lock at once one wins and the other sees it held.
var acquireLockSQL = upsert("env_locks", `repo, environment, owner_login, owner_id, owner_slack, reason, created_at, expires_at`,
	"repo, environment") + ` WHERE env_locks.expires_at != 0 AND env_locks.expires_at <= ?`

// AcquireLock implements bot.LockStore.
func (s *Store) AcquireLock(ctx context.Context, l bot.Lock, now time.Time, ev bot.AuditEvent) (bot.Lock, bool, error) {
	holder, acquired := l, false
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		cur, err := lockOf(ctx, tx, l.Repo, l.Environment)
		switch {
		case err == nil && cur.Active(now):
			holder = cur
			return nil
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		res, err := tx.ExecContext(ctx, acquireLockSQL,
			l.Repo, l.Environment, l.Owner.Login, l.Owner.GitHubID, l.Owner.ChatUser, l.Reason,
			nanos(l.CreatedAt), nanos(l.ExpiresAt), now.UnixNano())
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err == nil { // another process took it since the read above
				holder, err = lockOf(ctx, tx, l.Repo, l.Environment)
			}
			return err
		}
		acquired = true
		return s.appendEvents(ctx, tx, []bot.AuditEvent{ev})
	})
	if err != nil {
		return bot.Lock{}, false, fmt.Errorf("lock %s %s for %s: %w", l.Repo, l.Environment, l.Owner.Login, err)
	}
	return holder, acquired, nil
}

// ReleaseLock implements bot.LockStore.
func (s *Store) ReleaseLock(ctx context.Context, repo, env string, ev bot.AuditEvent) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM env_locks WHERE repo = ? AND environment = ?`, repo, env)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return bot.ErrNotFound
		}
		return s.appendEvents(ctx, tx, []bot.AuditEvent{ev})
	})
	if err != nil {
		return fmt.Errorf("unlock %s %s: %w", repo, env, err)
	}
	return nil
}
