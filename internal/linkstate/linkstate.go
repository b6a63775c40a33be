// Package linkstate is the port of the identity-linking sign-in's
// single-use secrets: the chat transport mints and consumes them, the
// store keeps them (store.OAuthState is this State). Neither side imports
// the other.
package linkstate

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"time"
)

// Kinds of secrets.
const (
	KindLink = "link" // the one-time link /deploy link hands a chat user
	KindFlow = "flow" // the state parameter of the GitHub OAuth web flow
)

// Errors of Consume. Each is a refusal of a linking attempt.
var (
	ErrUnknown = errors.New("unknown link or state")
	ErrUsed    = errors.New("link or state already used")
	ErrExpired = errors.New("link or state expired")
)

// State is one single-use secret of the linking flow, bound to the chat
// user (workspace and user id) it was minted for.
type State struct {
	Kind      string // KindLink or KindFlow
	Key       string // the secret; only its SHA-256 is stored (empty when read back)
	Workspace string // the chat workspace (a Slack team id)
	User      string // the chat user id in that workspace
	Verifier  string // PKCE code verifier (flow)
	// Browser is the value of the cookie binding a flow to the browser that
	// started it; only its SHA-256 is stored, in BrowserHash.
	Browser     string
	BrowserHash string
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// BrowserMatches reports, in constant time, whether cookie is the value
// this flow was bound to.
func (st State) BrowserMatches(cookie string) bool {
	if st.BrowserHash == "" || cookie == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(Hash(cookie)), []byte(st.BrowserHash)) == 1
}

// Hash is the hex SHA-256 under which a secret is stored.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Store keeps the secrets.
type Store interface {
	// Save stores a new secret.
	SaveOAuthState(ctx context.Context, st State) error
	// ConsumeOAuthState uses the secret key of kind at now: it never works
	// twice. A used or expired secret returns the state it was with
	// ErrUsed or ErrExpired; an unknown one ErrUnknown.
	ConsumeOAuthState(ctx context.Context, kind, key string, now time.Time) (State, error)
}
