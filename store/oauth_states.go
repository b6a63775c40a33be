package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/internal/linkstate"
)

// Kinds of OAuth linking secrets.
const (
	OAuthLink = linkstate.KindLink // the one-time link /deploy link hands a Slack user
	OAuthFlow = linkstate.KindFlow // the state parameter of the GitHub OAuth web flow
)

// Errors of ConsumeOAuthState. Each is a refusal of a linking attempt.
var (
	ErrOAuthStateUnknown = linkstate.ErrUnknown
	ErrOAuthStateUsed    = linkstate.ErrUsed
	ErrOAuthStateExpired = linkstate.ErrExpired
)

// oauthStateKeep is how long used and expired secrets stay for
// investigation before SaveOAuthState prunes them.
const oauthStateKeep = 24 * time.Hour

// OAuthState is one single-use secret of the linking flow, bound to the
// chat user it was minted for: the linking port's State.
type OAuthState = linkstate.State

func hashHex(s string) string { return linkstate.Hash(s) }

// SaveOAuthState stores a new secret and prunes secrets that ended long ago.
func (s *Store) SaveOAuthState(ctx context.Context, st OAuthState) error {
	if st.Key == "" || st.Workspace == "" || st.User == "" || (st.Kind != OAuthLink && st.Kind != OAuthFlow) {
		return fmt.Errorf("save %s state for %s/%s: kind, key and Slack user are required", st.Kind, st.Workspace, st.User)
	}
	browser := ""
	if st.Browser != "" {
		browser = hashHex(st.Browser)
	}
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM oauth_states WHERE expires_at < ?`,
			st.CreatedAt.Add(-oauthStateKeep).UnixNano()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO oauth_states (key_hash, kind, slack_team, slack_user,
			verifier, browser_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			hashHex(st.Key), st.Kind, st.Workspace, st.User, st.Verifier, browser,
			st.CreatedAt.UnixNano(), st.ExpiresAt.UnixNano())
		return err
	})
	if err != nil {
		return fmt.Errorf("save %s state for %s/%s: %w", st.Kind, st.Workspace, st.User, err)
	}
	return nil
}

// ConsumeOAuthState uses the secret key of kind at now: it is marked used
// whatever the outcome, so it never works twice. A used or expired secret
// returns the state it was (naming whom it was minted for) with
// ErrOAuthStateUsed or ErrOAuthStateExpired; an unknown one ErrOAuthStateUnknown.
func (s *Store) ConsumeOAuthState(ctx context.Context, kind, key string, now time.Time) (OAuthState, error) {
	st := OAuthState{Kind: kind}
	var verdict error
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		var created, expires, used int64
		err := tx.QueryRowContext(ctx, `SELECT slack_team, slack_user, verifier, browser_hash, created_at, expires_at, used_at
			FROM oauth_states WHERE key_hash = ? AND kind = ?`, hashHex(key), kind).
			Scan(&st.Workspace, &st.User, &st.Verifier, &st.BrowserHash, &created, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) {
			verdict = ErrOAuthStateUnknown
			return nil
		}
		if err != nil {
			return err
		}
		st.CreatedAt, st.ExpiresAt = time.Unix(0, created).UTC(), time.Unix(0, expires).UTC()
		switch {
		case used != 0:
			verdict = ErrOAuthStateUsed
			return nil
		case !now.Before(st.ExpiresAt):
			verdict = ErrOAuthStateExpired
		}
		res, err := tx.ExecContext(ctx, `UPDATE oauth_states SET used_at = ? WHERE key_hash = ? AND used_at = 0`,
			now.UnixNano(), hashHex(key))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			// Another process used it since the read above: it works once.
			verdict = ErrOAuthStateUsed
			return err
		}
		return nil
	})
	if err != nil {
		return OAuthState{}, fmt.Errorf("consume %s state: %w", kind, err)
	}
	if errors.Is(verdict, ErrOAuthStateUnknown) {
		return OAuthState{}, fmt.Errorf("%s state: %w", kind, verdict)
	}
	if verdict != nil {
		return st, fmt.Errorf("%s state of %s/%s: %w", kind, st.Workspace, st.User, verdict)
	}
	return st, nil
}
