package bot

import (
	"context"
	"time"
)

// Store persists requests, locks and identity links. Every write that
// changes state appends its audit events in the same transaction; when the
// audit append fails, nothing is written (fail closed).
type Store interface {
	RequestStore
	LockStore
	LinkStore
	// AppendAudit appends events that accompany no state change
	// (refusals, duplicates), in one transaction.
	AppendAudit(ctx context.Context, events ...AuditEvent) error
}

// RequestStore keeps requests and their approvals.
type RequestStore interface {
	// CreateRequest stores r with events. When a request with the same
	// SourceKey exists it writes nothing and returns that request with
	// created false. An ID collision returns an error wrapping ErrConflict.
	// notes, when given, build the notifications the new request implies;
	// they are written to the outbox in the same transaction.
	CreateRequest(ctx context.Context, r Request, events []AuditEvent, notes ...Notes) (stored Request, created bool, err error)
	// Request returns the request with id, or an error wrapping ErrNotFound.
	Request(ctx context.Context, id string) (Request, error)
	// RequestBySource returns the request created from source key, or an
	// error wrapping ErrNotFound.
	RequestBySource(ctx context.Context, sourceKey string) (Request, error)
	// ListRequests returns requests matching f, newest first (by creation,
	// or by finish with f.ByFinish).
	ListRequests(ctx context.Context, f RequestFilter) ([]Request, error)
	// UpdateRequest reads request id, lets change modify it, and writes it
	// with the events change returns, in one transaction, as a
	// compare-and-swap on the state and version read. When change returns
	// an error nothing is written and that error is returned. Approvals
	// are append-only except for RevokedAt. A second running request for
	// the same repository and environment is refused with ErrConflict.
	// notes, when given, build the notifications the transition implies from
	// the request as written; they go to the outbox in the same transaction
	// (nothing is written when change fails).
	UpdateRequest(ctx context.Context, id string, change func(*Request) ([]AuditEvent, error), notes ...Notes) (Request, error)
	// NextRunnable returns the oldest queued request (by QueuedAt) whose
	// repository and environment have nothing running, or an error
	// wrapping ErrNotFound.
	NextRunnable(ctx context.Context) (Request, error)
}

// LockStore keeps environment locks.
type LockStore interface {
	// Lock returns the lock on repo/env, or nil when there is none.
	Lock(ctx context.Context, repo, env string) (*Lock, error)
	// AcquireLock stores l unless an active lock (at now) exists, in which
	// case it returns that lock and acquired false. ev is appended only
	// when the lock is taken.
	AcquireLock(ctx context.Context, l Lock, now time.Time, ev AuditEvent) (holder Lock, acquired bool, err error)
	// ReleaseLock removes the lock on repo/env and appends ev; an error
	// wrapping ErrNotFound when there is none.
	ReleaseLock(ctx context.Context, repo, env string, ev AuditEvent) error
}

// Link ties a chat account to the GitHub account its owner proved they own.
type Link struct {
	Chat        ChatIdentity
	GitHubLogin string
	GitHubID    int64
	LinkedAt    time.Time
	// Proofs say how the owner proved each side when linking, in one
	// browser session; the audit entry records them (they are not stored
	// with the link).
	Proofs []IdentityProof
}

// IdentityProof is how a link's owner proved they hold one of its accounts.
type IdentityProof struct {
	Side    string    `json:"side"`              // ProofChat or ProofGitHub
	Method  string    `json:"method"`            // e.g. "slack_openid_connect", "github_oauth_pkce"
	Account string    `json:"account"`           // the account proved: "T123/U456", "bob"
	Subject string    `json:"subject,omitempty"` // what the identity provider vouched for (OpenID sub, numeric id)
	At      time.Time `json:"at"`
}

// Sides of a link's proofs.
const (
	ProofChat   = "chat"
	ProofGitHub = "github"
)

// Identity returns the person the link stands for.
func (l Link) Identity() Identity {
	return Identity{Login: l.GitHubLogin, GitHubID: l.GitHubID, ChatUser: l.Chat.String()}
}

// LinkStore keeps chat↔GitHub identity links.
type LinkStore interface {
	// SaveLink stores l, replacing any link of the same chat account, and appends ev.
	SaveLink(ctx context.Context, l Link, ev AuditEvent) error
	// LinkFor returns the link of a chat account, or an error wrapping ErrNotFound.
	LinkFor(ctx context.Context, chat ChatIdentity) (Link, error)
	// DeleteLinks removes the links of a chat account (chat.User set) or of a
	// GitHub account (githubID set), appends ev when one was removed, and
	// returns the removed links.
	DeleteLinks(ctx context.Context, chat ChatIdentity, githubID int64, ev AuditEvent) ([]Link, error)
}
