// Package mfastate is the port of the security key pages' single-use
// secrets (issue 14): the links the chat transport hands out and the
// WebAuthn ceremonies the web transport starts. The transports mint and
// consume them; the store keeps them (store.MFAState is this State).
// Neither side imports the other.
package mfastate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Kinds of secrets.
const (
	// KindRegisterLink is the one-time link /deploy mfa register hands a
	// chat user: it opens the page that registers a security key.
	KindRegisterLink = "register_link"
	// KindEmergencyLink is the one-time link an emergency change that
	// needs a security key hands its requester; Data holds the command.
	KindEmergencyLink = "emergency_link"
	// KindCeremony is one WebAuthn ceremony a page started: Data holds the
	// relying party's session state and what the challenge is bound to.
	KindCeremony = "ceremony"
)

// Kinds lists every kind, for stores that check them.
var Kinds = []string{KindRegisterLink, KindEmergencyLink, KindCeremony}

// Errors of Consume. Each refuses the attempt.
var (
	ErrUnknown = errors.New("unknown link or ceremony")
	ErrUsed    = errors.New("link or ceremony already used")
	ErrExpired = errors.New("link or ceremony expired")
)

// State is one single-use secret.
type State struct {
	Kind      string
	Key       string // the secret; only its SHA-256 is stored (empty when read back)
	Workspace string // the chat workspace of a link (a Slack team id)
	User      string // the chat user a link was minted for
	GitHubID  int64  // the person a ceremony was started for
	Subject   string // the request (or ask) a ceremony or link is about
	Data      []byte // JSON the minting side reads back; never secret
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Hash is the hex SHA-256 under which a secret is stored.
func Hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// Store keeps the secrets.
type Store interface {
	// SaveMFAState stores a new secret.
	SaveMFAState(ctx context.Context, st State) error
	// ConsumeMFAState uses the secret key of kind at now: it never works
	// twice. A used or expired secret returns the state it was with
	// ErrUsed or ErrExpired; an unknown one ErrUnknown.
	ConsumeMFAState(ctx context.Context, kind, key string, now time.Time) (State, error)
}

// EmergencyAsk is the Data of a KindEmergencyLink: the emergency change a
// chat user asked for, which the page shows and, once confirmed with a
// security key, submits.
type EmergencyAsk struct {
	SourceKey   string `json:"source_key"` // "slack:<trigger id>": submitting twice creates one request
	Repo        string `json:"repo"`
	Environment string `json:"environment"`
	Ref         string `json:"ref"`
	Reason      string `json:"reason"`
}
