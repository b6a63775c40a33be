// Package web serves Tollgate's read-only pages for people and auditors:
// a deployment's log page (/deployments/{id}, the log_url of every GitHub
// deployment status), the audit log (/audit) and what runs where
// (/environments). Every page is behind a GitHub login (OAuth web flow with
// PKCE) that admits only active members of the configured organisation and
// members of the auditors teams. Pages are server-rendered html/template
// with inline CSS and no script, except the security key pages (mfa.go),
// which load one same-origin script; sessions are kept in a SessionStore
// (the server's is the database, shared by every replica).
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/oauth"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// Requests is what the pages read from the domain; *bot.Service has it.
type Requests interface {
	// Request returns one request; an error wrapping bot.ErrNotFound is a 404.
	Request(ctx context.Context, id string) (bot.Request, error)
	// Live returns the last request that succeeded on repo/env.
	Live(ctx context.Context, repo, env string) (bot.Request, bool, error)
	// Active returns repo/env's requests that have not finished.
	Active(ctx context.Context, repo, env string) ([]bot.Request, error)
	// History returns repo/env's latest requests, newest first.
	History(ctx context.Context, repo, env string, limit int) ([]bot.Request, error)
	// EnvironmentLock returns the lock in force on repo/env, or nil.
	EnvironmentLock(ctx context.Context, repo, env string) (*bot.Lock, error)
}

// AuditLog is what the pages read from the audit log; *audit.Log has it.
type AuditLog interface {
	// Size returns the number of entries.
	Size(ctx context.Context) (int64, error)
	// Page returns up to n entries with seq below before, newest first.
	Page(ctx context.Context, before int64, n int) ([]audit.Entry, error)
	// LatestCheckpoint returns the most recent signed checkpoint.
	LatestCheckpoint(ctx context.Context) (audit.Checkpoint, bool, error)
	// ProveInclusion proves entry seq against the latest checkpoint; an
	// error wrapping audit.ErrNotCovered when no checkpoint covers it yet.
	ProveInclusion(ctx context.Context, seq int64) (audit.InclusionProof, error)
}

// EmergencyReviews finds the after-the-fact review of an emergency change;
// ok is false while none is open.
type EmergencyReviews interface {
	EmergencyReview(ctx context.Context, requestID string) (review bot.EmergencyReview, ok bool, err error)
}

// OAuth is the GitHub side of the login.
type OAuth struct {
	WebURL       string // github.web_url: /login/oauth/authorize and /login/oauth/access_token
	APIURL       string // github.api_url: GET /user and the membership checks
	ClientID     string
	ClientSecret string
	Org          string       // only active members of this organisation get in
	AuditorTeams []string     // team slugs in Org whose members get in too (teams.auditors)
	HTTPClient   *http.Client // nil means http.DefaultClient
}

// Config is what New needs. Requests, Audit, AuditEntries, Verification,
// Environments, OAuth (all but AuditorTeams and HTTPClient) and PublicURL
// are required.
type Config struct {
	Requests Requests
	Audit    AuditLog
	// AuditEntries returns the audit entries whose subject is a request id,
	// oldest first.
	AuditEntries func(ctx context.Context, requestID string) ([]audit.Entry, error)
	// DeployLog returns a request's deployment log (hook output, redacted
	// by deploy, and the file manifest), nil when there is none. Optional.
	DeployLog func(ctx context.Context, requestID string) ([]byte, error)
	// Verification is the background verification of the whole audit
	// log (an *audit.Monitor the server runs): /audit shows its last result.
	Verification Verification
	// Environments lists the environment policies in force (read on each
	// page view, so a config reload shows at once).
	Environments func() []*bot.EnvironmentPolicy
	// Reviews finds an emergency change's review for its page; nil shows
	// the emergency without it.
	Reviews EmergencyReviews
	// Drift reads the last drift check of each environment, shown per
	// server on /environments; nil shows none.
	Drift DriftChecks
	// Attestations finds a deployment's attestation for its page and the
	// download; nil shows none.
	Attestations Attestations
	// MFA serves the security key pages (register, approve, emergency
	// changes and reviews: mfa.go); nil serves none of them.
	MFA *MFAConfig

	OAuth     OAuth
	PublicURL string // external base URL; https makes cookies Secure
	// Sessions keeps the signed-in sessions; nil keeps them in this
	// process's memory (one process: a restart signs everyone out).
	Sessions SessionStore

	SessionIdle    time.Duration // 0 means DefaultSessionIdle
	SessionMax     time.Duration // 0 means DefaultSessionMax
	RecheckEvery   time.Duration // re-confirm membership with GitHub; 0 means 10 minutes
	Clock          func() time.Time
	Logger         *slog.Logger
	AuditTailCount int // entries per page of /audit; 0 means 50
}

// Handler serves the pages and the login. Create it with New.
type Handler struct {
	cfg      Config
	now      func() time.Time
	log      *slog.Logger
	public   *url.URL
	secure   bool
	sessions *sessions
	logins   sealer       // seals the started sign-ins into the browser's login cookie
	gh       oauth.GitHub // the sign-in's code exchange and GET /user
	mfa      *mfa         // the security key pages; nil when off
}

// New checks cfg and returns a Handler.
func New(cfg Config) (*Handler, error) {
	var missing []string
	need := func(ok bool, name string) {
		if !ok {
			missing = append(missing, name)
		}
	}
	need(cfg.Requests != nil, "Requests")
	need(cfg.Audit != nil, "Audit")
	need(cfg.AuditEntries != nil, "AuditEntries")
	need(cfg.Verification != nil, "Verification")
	need(cfg.Environments != nil, "Environments")
	need(cfg.OAuth.WebURL != "", "OAuth.WebURL")
	need(cfg.OAuth.APIURL != "", "OAuth.APIURL")
	need(cfg.OAuth.ClientID != "", "OAuth.ClientID")
	need(cfg.OAuth.ClientSecret != "", "OAuth.ClientSecret")
	need(cfg.OAuth.Org != "", "OAuth.Org")
	need(cfg.PublicURL != "", "PublicURL")
	if len(missing) > 0 {
		return nil, fmt.Errorf("web: Config needs %s", strings.Join(missing, ", "))
	}
	pub, err := url.Parse(strings.TrimSuffix(cfg.PublicURL, "/"))
	if err != nil || (pub.Scheme != "http" && pub.Scheme != "https") || pub.Host == "" {
		return nil, fmt.Errorf("web: PublicURL %q is not an http(s) URL", cfg.PublicURL)
	}
	for _, u := range []string{cfg.OAuth.WebURL, cfg.OAuth.APIURL} {
		if p, err := url.Parse(u); err != nil || p.Host == "" {
			return nil, fmt.Errorf("web: GitHub URL %q is not absolute", u)
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.SessionIdle, DefaultSessionIdle)
	def(&cfg.SessionMax, DefaultSessionMax)
	def(&cfg.RecheckEvery, 10*time.Minute)
	if cfg.AuditTailCount <= 0 {
		cfg.AuditTailCount = 50
	}
	if cfg.OAuth.HTTPClient == nil {
		cfg.OAuth.HTTPClient = http.DefaultClient
	}
	h := &Handler{cfg: cfg, now: cfg.Clock, log: cfg.Logger, public: pub, secure: pub.Scheme == "https",
		gh: oauth.GitHub{WebURL: cfg.OAuth.WebURL, APIURL: cfg.OAuth.APIURL, ClientID: cfg.OAuth.ClientID,
			ClientSecret: cfg.OAuth.ClientSecret, HTTPClient: cfg.OAuth.HTTPClient}}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	seal, err := newSealer(cfg.OAuth.ClientSecret, sealSessionToken)
	if err != nil {
		return nil, fmt.Errorf("web: session sealing key: %w", err)
	}
	if h.logins, err = newSealer(cfg.OAuth.ClientSecret, sealLoginFlow); err != nil {
		return nil, fmt.Errorf("web: sign-in sealing key: %w", err)
	}
	h.sessions = newSessions(cfg.Sessions, cfg.SessionIdle, cfg.SessionMax, seal)
	if cfg.MFA != nil {
		if h.mfa, err = newMFA(*cfg.MFA, pub); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Session lifetimes when Config leaves them zero.
const (
	DefaultSessionIdle = 8 * time.Hour  // signed out after this long without a page view
	DefaultSessionMax  = 24 * time.Hour // signed out this long after signing in, whatever happens
)

// Paths the Handler serves.
const (
	PathLogin        = "/login"
	PathCallback     = "/login/callback"
	PathLogout       = "/logout"
	PathAudit        = "/audit"
	PathEnvironments = "/environments"
	PathDeployments  = "/deployments/"
)

// Register mounts the pages and the login on mux: GET /deployments/{id}
// (and its attestation.dsse.json),
// GET /audit, GET /environments, GET /login, GET /login/callback,
// GET and POST /logout.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET /deployments/{id}", h.secured(h.requireLogin(h.deploymentPage)))
	mux.Handle("GET /deployments/{id}"+PathAttestationFile, h.secured(h.requireLogin(h.attestationFile)))
	mux.Handle("GET "+PathAudit, h.secured(h.requireLogin(h.auditPage)))
	mux.Handle("GET "+PathEnvironments, h.secured(h.requireLogin(h.environmentsPage)))
	mux.Handle("GET "+PathLogin, h.secured(http.HandlerFunc(h.login)))
	mux.Handle("GET "+PathCallback, h.secured(http.HandlerFunc(h.callback)))
	mux.Handle("GET "+PathLogout, h.secured(http.HandlerFunc(h.logoutForm)))
	mux.Handle("POST "+PathLogout, h.secured(http.HandlerFunc(h.logout)))
	if h.mfa != nil {
		h.registerMFA(mux)
	}
}

// contentSecurityPolicy allows nothing but inline styles and local images:
// the pages carry no script, and no other site may frame them.
const contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// secured sets the security headers on every answer, redirects and errors
// included.
func (h *Handler) secured(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", contentSecurityPolicy)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("Cache-Control", "no-store")
		if h.secure {
			hd.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// viewerKey carries the signed-in viewer in a request's context.
type viewerKey struct{}

// Viewer is the person looking at a page.
type Viewer struct {
	Login    string
	GitHubID int64
	Role     string // "member" of the organisation, or "auditor"
}

func viewerFrom(ctx context.Context) Viewer {
	v, _ := ctx.Value(viewerKey{}).(Viewer)
	return v
}

// requireLogin admits a request with a live session; others are sent to
// the login with the page they asked for as next.
func (h *Handler) requireLogin(page func(http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.sessions.get(r.Context(), cookieValue(r, sessionCookie(h.secure)), h.now())
		if err != nil && !errors.Is(err, ErrNoSession) && !errors.Is(err, errSessionExpired) {
			h.log.ErrorContext(r.Context(), "web session unreadable", "err", err)
			h.message(w, r, http.StatusServiceUnavailable, "Could not check your session", "Tollgate could not read its sessions. Try again shortly.")
			return
		}
		if err != nil {
			if errors.Is(err, errSessionExpired) {
				h.clearCookie(w, sessionCookie(h.secure))
			}
			http.Redirect(w, r, PathLogin+"?next="+url.QueryEscape(requestedPage(r)), http.StatusFound)
			return
		}
		if !h.recheck(r.Context(), w, r, &s) {
			return
		}
		ctx := context.WithValue(r.Context(), viewerKey{}, Viewer{Login: s.Login, GitHubID: s.GitHubID, Role: s.Role})
		page(w, r.WithContext(ctx))
	})
}
