package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tollgate-dev/tollgate/internal/mfastate"
)

// MFAState is one single-use secret of the security key pages: the port's State.
type MFAState = mfastate.State

// mfaStateKeep is how long used and expired secrets stay for
// investigation before SaveMFAState prunes them.
const mfaStateKeep = 24 * time.Hour

// The Store keeps the security key pages' secrets.
var _ mfastate.Store = (*Store)(nil)

// SaveMFAState stores a new secret and prunes secrets that ended long ago.
func (s *Store) SaveMFAState(ctx context.Context, st MFAState) error {
	if st.Key == "" || !slices.Contains(mfastate.Kinds, st.Kind) || st.ExpiresAt.IsZero() {
		return fmt.Errorf("save %s secret: a known kind, a key and an expiry are required", st.Kind)
	}
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM mfa_states WHERE expires_at < ?`,
			st.CreatedAt.Add(-mfaStateKeep).UnixNano()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO mfa_states (key_hash, kind, chat_workspace, chat_user, github_id,
			subject, data, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			mfastate.Hash(st.Key), st.Kind, st.Workspace, st.User, st.GitHubID, st.Subject, string(st.Data),
			st.CreatedAt.UnixNano(), st.ExpiresAt.UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("save %s secret about %q: %w", st.Kind, st.Subject, err)
	}
	return nil
}

// ConsumeMFAState uses the secret key of kind at now: it is marked used
// whatever the outcome, so it never works twice. A used or expired secret
// returns the state it was with mfastate.ErrUsed or ErrExpired; an unknown
// one ErrUnknown.
func (s *Store) ConsumeMFAState(ctx context.Context, kind, key string, now time.Time) (MFAState, error) {
	st := MFAState{Kind: kind}
	var verdict error
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		var created, expires, used int64
		var data string
		err := tx.QueryRowContext(ctx, `SELECT chat_workspace, chat_user, github_id, subject, data, created_at, expires_at, used_at
			FROM mfa_states WHERE key_hash = ? AND kind = ?`+s.dialect.forUpdate, mfastate.Hash(key), kind).
			Scan(&st.Workspace, &st.User, &st.GitHubID, &st.Subject, &data, &created, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) {
			verdict = mfastate.ErrUnknown
			return nil
		}
		if err != nil {
			return err
		}
		st.Data, st.CreatedAt, st.ExpiresAt = []byte(data), fromNanos(created), fromNanos(expires)
		switch {
		case used != 0:
			verdict = mfastate.ErrUsed
			return nil
		case !now.Before(st.ExpiresAt):
			verdict = mfastate.ErrExpired
		}
		res, err := tx.ExecContext(ctx, `UPDATE mfa_states SET used_at = ? WHERE key_hash = ? AND used_at = 0`,
			now.UnixNano(), mfastate.Hash(key))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			verdict = mfastate.ErrUsed // another process used it since the read above
			return err
		}
		return nil
	})
	if err != nil {
		return MFAState{}, fmt.Errorf("consume %s secret: %w", kind, err)
	}
	if errors.Is(verdict, mfastate.ErrUnknown) {
		return MFAState{}, fmt.Errorf("%s secret: %w", kind, verdict)
	}
	if verdict != nil {
		return st, fmt.Errorf("%s secret about %q: %w", kind, st.Subject, verdict)
	}
	return st, nil
}
