package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// WebSession is one signed-in browser of the web pages (integrations/web),
// kept in the database so every replica knows it.
type WebSession struct {
	Key         string // SHA-256 of the cookie value
	Login       string
	GitHubID    int64
	Role        string
	SealedToken []byte // the user's GitHub token, sealed by integrations/web
	CreatedAt   time.Time
	LastSeenAt  time.Time
	CheckedAt   time.Time
}

// ErrNoWebSession is returned for a session that does not exist.
var ErrNoWebSession = errors.New("no such web session")

const webSessionColumns = `key, login, github_id, role, sealed_token, created_at, last_seen_at, checked_at`

// SaveWebSession stores ws (a new session, or one whose key is known: it
// is replaced).
func (s *Store) SaveWebSession(ctx context.Context, ws WebSession) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, upsert("web_sessions", webSessionColumns, "key"), ws.Key, ws.Login, ws.GitHubID,
			ws.Role, ws.SealedToken, nanos(ws.CreatedAt), nanos(ws.LastSeenAt), nanos(ws.CheckedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("save web session of %s: %w", ws.Login, err)
	}
	return nil
}

// WebSession returns the session with key, or ErrNoWebSession.
func (s *Store) WebSession(ctx context.Context, key string) (WebSession, error) {
	var ws WebSession
	var created, seen, checked int64
	err := s.db.QueryRowContext(ctx, `SELECT `+webSessionColumns+` FROM web_sessions WHERE key = ?`, key).
		Scan(&ws.Key, &ws.Login, &ws.GitHubID, &ws.Role, &ws.SealedToken, &created, &seen, &checked)
	if errors.Is(err, sql.ErrNoRows) {
		return WebSession{}, ErrNoWebSession
	}
	if err != nil {
		return WebSession{}, fmt.Errorf("read web session: %w", err)
	}
	ws.CreatedAt, ws.LastSeenAt, ws.CheckedAt = fromNanos(created), fromNanos(seen), fromNanos(checked)
	return ws, nil
}

// TouchWebSession records that session key was seen at at (never moving
// it back), and, when role is not empty, that its access was re-checked
// then with that outcome.
func (s *Store) TouchWebSession(ctx context.Context, key string, at time.Time, role string) error {
	q := `UPDATE web_sessions SET last_seen_at = ? WHERE key = ? AND last_seen_at < ?`
	args := []any{nanos(at), key, nanos(at)}
	if role != "" {
		q = `UPDATE web_sessions SET last_seen_at = ?, checked_at = ?, role = ? WHERE key = ?`
		args = []any{nanos(at), nanos(at), role, key}
	}
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, q, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("update web session: %w", err)
	}
	return nil
}

// DeleteWebSession ends session key (a sign-out, an expiry, access withdrawn).
func (s *Store) DeleteWebSession(ctx context.Context, key string) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE key = ?`, key)
		return err
	})
	if err != nil {
		return fmt.Errorf("delete web session: %w", err)
	}
	return nil
}

// PruneWebSessions deletes the sessions not seen since idleBefore or
// created before createdBefore, and returns how many.
func (s *Store) PruneWebSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int, error) {
	var n int64
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM web_sessions WHERE last_seen_at < ? OR created_at < ?`,
			nanos(idleBefore), nanos(createdBefore))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune web sessions: %w", err)
	}
	return int(n), nil
}
