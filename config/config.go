// Package config loads and validates tollgate.yml into typed values: every
// duration, pattern, time zone and schedule is parsed here, so the rest of
// Tollgate never re-parses configuration strings.
package config

import (
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// Defaults for optional keys. GitHub and Slack URLs point at the public
// services; GitHub Enterprise Server and test fakes override them.
const (
	DefaultListen            = ":8080"
	DefaultGitHubAPIURL      = "https://api.github.com/"
	DefaultGitHubWebURL      = "https://github.com/"
	DefaultSlackAPIURL       = "https://slack.com/api/"
	DefaultSlackWebURL       = "https://slack.com/"
	DefaultCheckpointEvery   = 100
	MinRetentionDays         = 365 // audit periods are 12 months
	DefaultAccessReview      = 90 * 24 * time.Hour
	DefaultLockRemindAfter   = 24 * time.Hour
	DefaultDriftInterval     = time.Hour
	DefaultReplicaLease      = 15 * time.Second
	MinReplicaLease          = 3 * time.Second
	MaxReplicaLease          = 5 * time.Minute
	DefaultApprovalTTL       = time.Hour
	DefaultEmergencyReview   = 24 * time.Hour
	DefaultSSHPort           = 22
	DefaultKeepReleases      = 5
	DefaultMaxParallel       = 10
	DefaultHealthTimeout     = 10 * time.Second
	DefaultHealthRetries     = 3
	DefaultHealthInterval    = 2 * time.Second
	DefaultEmergencyTicketRE = `[A-Z][A-Z0-9_]+-[0-9]+`
)

// DefaultSlackResponseURLBase is where Slack's response_urls live.
const DefaultSlackResponseURLBase = "https://hooks.slack.com/"

// Config is a validated tollgate.yml. Relative file paths in it have been
// resolved against the directory of the config file.
type Config struct {
	File         string // the file name given to Parse or Load
	Listen       string // HTTP listen address, host:port
	PublicURL    string // external base URL, no trailing slash
	Database     string // store location: a SQLite file path, or a postgres:// URL (may hold a password: print it through store.Describe)
	Audit        Audit
	Attestation  Attestation
	GitHub       GitHub
	Slack        Slack
	Teams        Teams
	AccessReview AccessReview
	Locks        Locks
	Drift        Drift
	WebAuthn     WebAuthn
	Replicas     Replicas
	// Repositories by "owner/name".
	Repositories map[string]*Repository

	hash     string
	policies bot.PolicySet
}

// Audit configures the tamper-evident audit log.
type Audit struct {
	SigningKeyFile   string // ed25519 checkpoint signing key (secret)
	PublicKeyFile    string // optional; derived from the signing key when empty
	CheckpointEvery  int    // sign a checkpoint every N entries
	AnchorRepository string // optional "owner/name" that receives signed checkpoints
	RetentionDays    int    // at least MinRetentionDays
	HMACKeyFile      string // optional key for HMAC'd values that must not be disclosed (secret)

	// PreviousPublicKeyFiles are the public keys of signing keys rotated
	// out: checkpoints they signed still verify.
	PreviousPublicKeyFiles []string
}

// Attestation configures the deployment attestations (docs/attestation.md).
type Attestation struct {
	// SigningKeyFile is the ed25519 key that signs every release that goes
	// live (secret; its own key, not the audit key). Empty: releases go
	// live unattested, which doctor reports and the evidence pack lists
	// as an exception.
	SigningKeyFile string
	// PreviousPublicKeys are the attestation keys rotated out: the
	// deployment pages and drift checks still verify what they signed
	// before their retirement time.
	PreviousPublicKeys []PreviousKey
}

// PreviousKey is an attestation key rotated out, written "PATH" or
// "PATH@TIME" in attestation.previous_public_key_files (as `tollgate
// attest verify --retired-key`).
type PreviousKey struct {
	File string // its public key file
	// RetiredAt is when it was rotated out: it verifies only attestations
	// whose audit checkpoint was signed before then. Zero when no time was
	// given: it is trusted for attestations of any time (doctor warns).
	RetiredAt time.Time
}

// GitHub configures the GitHub App.
type GitHub struct {
	APIURL            string // REST API base URL, with trailing slash
	WebURL            string // web base URL (OAuth authorize), with trailing slash
	AppID             int64
	PrivateKey        Secret // PEM of the App's private key, when given inline
	PrivateKeyFile    string // path of the App's private key, when given as a file
	WebhookSecret     Secret
	OAuthClientID     string
	OAuthClientSecret Secret
	Org               string // the organisation whose teams grant rights
}

// Slack configures the Slack app. Enabled is false when the section is absent.
type Slack struct {
	Enabled       bool
	APIURL        string // Web API base URL, with trailing slash
	WebURL        string // browser base URL (Sign in with Slack's /openid/connect/authorize), with trailing slash
	BotToken      Secret
	SigningSecret Secret
	Channel       string            // where approval requests are posted
	Channels      map[string]string // channel ID → "owner/name", so commands there may omit the repository
	// ResponseURLBase is the prefix a response_url must have for Tollgate
	// to post to it, with trailing slash (GovSlack: https://hooks.slack-gov.com/).
	ResponseURLBase string
	// ClientID and ClientSecret are the Slack app's OAuth client, for Sign
	// in with Slack: linking proves the Slack user with it.
	ClientID     string
	ClientSecret Secret
}

// SignInConfigured reports whether Sign in with Slack, which linking
// needs, is set.
func (s Slack) SignInConfigured() bool { return s.ClientID != "" && !s.ClientSecret.IsZero() }

// Teams lists the GitHub team slugs (in GitHub.Org) with Tollgate-wide roles.
type Teams struct {
	Admins          []string // may unlock anyone's lock
	AccessReviewers []string // sign off access reviews
	Auditors        []string // may read evidence
}

// AccessReview configures periodic access reviews.
type AccessReview struct {
	Interval time.Duration // remind when the last signed review is older
}

// Drift configures the scheduled drift check (issue 13).
type Drift struct {
	// Interval is how often every ssh environment's servers are checked
	// against the release Tollgate put live; 0 turns the check off.
	Interval time.Duration
}

// Locks configures environment locks.
type Locks struct {
	RemindAfter time.Duration // remind a lock's owner after this long
}

// Replicas configures how several `tollgate serve` replicas on one
// PostgreSQL database share work (docs/ha.md).
type Replicas struct {
	// Lease is how long a replica's hold on its work (inbox leases, running
	// deploys, the jobs leadership) lasts without a heartbeat: the bound on
	// how long work of a replica that died waits before another takes it
	// over. Heartbeats renew it every third of it.
	Lease time.Duration
}

// Repository is one GitHub repository and its environments.
type Repository struct {
	Name         string // "owner/name"
	Environments map[string]*Environment
}

// fileRef is a file named in the config, checked by Load.
type fileRef struct {
	key     string
	line    int
	path    string
	secret  bool   // a private key: must not be readable by group or others
	attest  bool   // the attestation signing key: parsed, and not the audit key
	sshKey  bool   // an SSH private key: compared across environments
	env     string // the environment of an SSH key, "owner/name/env"
	created bool   // created by Tollgate (the database): only its directory must exist
}

// Hash is the hex SHA-256 of the config file's bytes, recorded in the audit
// log when the configuration is loaded or reloaded.
func (c *Config) Hash() string { return c.hash }

// Environment returns the environment env of repository repo.
func (c *Config) Environment(repo, env string) (*Environment, bool) {
	r, ok := c.Repositories[repo]
	if !ok {
		return nil, false
	}
	e, ok := r.Environments[env]
	return e, ok
}

// RepoForChannel returns the repository a Slack channel is mapped to.
func (c *Config) RepoForChannel(channelID string) (string, bool) {
	r, ok := c.Slack.Channels[channelID]
	return r, ok
}

// RepositoryNames returns the configured repositories, sorted.
func (c *Config) RepositoryNames() []string { return sortedKeys(c.Repositories) }

// EnvironmentNames returns the repository's environments, sorted.
func (r *Repository) EnvironmentNames() []string { return sortedKeys(r.Environments) }

// Environments returns every environment of every repository, sorted by
// repository then environment name.
func (c *Config) Environments() []*Environment {
	var out []*Environment
	for _, rn := range c.RepositoryNames() {
		r := c.Repositories[rn]
		for _, en := range r.EnvironmentNames() {
			out = append(out, r.Environments[en])
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// AnchorsSince is the first day whose anchor file verify reads when the
// anchor repository cannot be listed: the retention period plus a day of
// slack, never taken from the (possibly rewritten) local log.
func (a Audit) AnchorsSince(now time.Time) time.Time {
	return now.AddDate(0, 0, -(max(a.RetentionDays, MinRetentionDays) + 1))
}

// AppPrivateKey returns the GitHub App's private key, inline or read from
// its file. Errors name the key, never its contents.
func (g GitHub) AppPrivateKey() ([]byte, error) {
	if !g.PrivateKey.IsZero() {
		return []byte(g.PrivateKey.Value()), nil
	}
	b, err := os.ReadFile(g.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("github.private_key_file: %w", err)
	}
	return b, nil
}

// WebLoginConfigured reports whether the OAuth client the web pages'
// GitHub login needs is set.
func (g GitHub) WebLoginConfigured() bool {
	return g.OAuthClientID != "" && !g.OAuthClientSecret.IsZero()
}
