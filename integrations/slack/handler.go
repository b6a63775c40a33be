// Package slack is Tollgate's Slack transport: it verifies and persists
// slash commands and interactions, answers Slack within its 3 seconds,
// turns them into bot calls afterwards, links Slack users to GitHub
// accounts through GitHub's OAuth web flow, and renders bot notifications
// as Block Kit messages (Notifier).
package slack

import (
	"context"
	"errors"
	"fmt"
	"github.com/tollgate-dev/tollgate/internal/inbox"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/linkstate"
	"github.com/tollgate-dev/tollgate/internal/mfastate"
	"github.com/tollgate-dev/tollgate/internal/oauth"
	"github.com/tollgate-dev/tollgate/internal/reqlog"
	"github.com/tollgate-dev/tollgate/internal/signature"
)

// Routes served by Handler.Register.
const (
	PathCommands      = "/slack/commands"
	PathInteractions  = "/slack/interactions"
	PathOAuthStart    = "/oauth/link/start"      // the /deploy link URL: Sign in with Slack first
	PathSlackCallback = "/oauth/slack/callback"  // Sign in with Slack's redirect URL
	PathOAuthCallback = "/oauth/github/callback" // GitHub's, after Slack confirmed the user
)

// DefaultMaxBody is the largest request body accepted from Slack.
const DefaultMaxBody = 1 << 20

// Store is what the Slack transport keeps in the database: the inbox where
// requests wait to be processed, the linking flow's one-time secrets,
// identity links (for whoami) and audit entries for refusals bot does not
// make itself. *store.Store implements it.
type Store interface {
	Enqueue(ctx context.Context, it inbox.Item) (duplicate bool, err error)
	SaveOAuthState(ctx context.Context, st linkstate.State) error
	ConsumeOAuthState(ctx context.Context, kind, key string, now time.Time) (linkstate.State, error)
	LinkFor(ctx context.Context, chat bot.ChatIdentity) (bot.Link, error)
	AppendAudit(ctx context.Context, events ...bot.AuditEvent) error
}

// Routing answers the configuration questions of the Slack transport.
type Routing interface {
	// RepoForChannel returns the repository a channel is mapped to.
	RepoForChannel(channelID string) (repo string, ok bool)
	// Repositories lists the configured repositories, sorted.
	Repositories() []string
	// Environments lists a repository's environments, sorted.
	Environments(repo string) []string
}

// GitHubOAuth is the GitHub App's OAuth client, for linking identities.
// A nil HTTPClient means one with a 10 s timeout.
type GitHubOAuth = oauth.GitHub

// SlackSignIn is the Slack app's Sign in with Slack client (OpenID
// Connect), which proves the Slack side of a link. A nil HTTPClient means
// one with a 10 s timeout.
type SlackSignIn = oauth.Slack

// Config is what a Handler needs.
type Config struct {
	SigningSecret string
	Service       *bot.Service
	Store         Store
	Routing       Routing
	Slack         *slackapi.Client // views.open, chat.postEphemeral
	// ResponseClient posts to response_url; nil means a client with a 10 s timeout.
	ResponseClient *http.Client
	PublicURL      string // external base URL of Tollgate, no trailing slash
	GitHub         GitHubOAuth
	// SignIn proves the Slack user when linking; without its client id and
	// secret /deploy link says linking is not set up.
	SignIn  SlackSignIn
	MaxBody int64 // 0 means DefaultMaxBody
	Clock   func() time.Time
	Logger  *slog.Logger
	// AccessReviews returns the access review controls in force, for
	// /deploy access-review and the sign-off buttons; nil refuses both
	// as not configured.
	AccessReviews func() (*bot.AccessReviews, error)
	// Policies, when set, lets /deploy status show freeze windows in force.
	Policies bot.Policies
	// MFA keeps the one-time links to the security key pages (register a
	// key, confirm an emergency change); nil answers that security keys
	// are not set up.
	MFA mfastate.Store
	// ResponseURLBase is the prefix every response_url must have to be
	// posted to; "" means DefaultResponseURLBase (GovSlack and tests set theirs).
	ResponseURLBase string
	// Unverified bounds the bodies held before their signatures are
	// checked, shared with other transports; nil means 16 MB of its own.
	Unverified *signature.Budget
}

// Handler serves Slack's requests and Tollgate's OAuth linking pages, and
// processes the persisted requests (HandleInboxItem).
type Handler struct {
	secret   []byte
	svc      *bot.Service
	store    Store
	routing  Routing
	api      *slackapi.Client
	respHTTP *http.Client
	respBase *url.URL
	public   string
	gh       GitHubOAuth
	sl       SlackSignIn
	seal     *oauth.Seal // the link cookie's; nil when Sign in with Slack is not configured
	maxBody  int64
	now      func() time.Time
	log      *slog.Logger
	wake     chan struct{}
	bg       sync.WaitGroup
	access   func() (*bot.AccessReviews, error)
	policies bot.Policies
	mfa      mfastate.Store
	// unverified bounds request bodies held before their signature is checked.
	unverified *signature.Budget
}

// New returns a Handler, or an error naming the missing dependency.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.SigningSecret == "":
		return nil, errors.New("slack: Config.SigningSecret is required")
	case cfg.Service == nil:
		return nil, errors.New("slack: Config.Service is required")
	case cfg.Store == nil:
		return nil, errors.New("slack: Config.Store is required")
	case cfg.Routing == nil:
		return nil, errors.New("slack: Config.Routing is required")
	case cfg.Slack == nil:
		return nil, errors.New("slack: Config.Slack is required")
	case cfg.PublicURL == "":
		return nil, errors.New("slack: Config.PublicURL is required")
	}
	h := &Handler{
		secret: []byte(cfg.SigningSecret), svc: cfg.Service, store: cfg.Store, routing: cfg.Routing,
		api: cfg.Slack, respHTTP: cfg.ResponseClient, public: strings.TrimSuffix(cfg.PublicURL, "/"),
		gh: cfg.GitHub, sl: cfg.SignIn, maxBody: cfg.MaxBody, now: cfg.Clock, log: cfg.Logger, wake: make(chan struct{}, 1),
		access: cfg.AccessReviews, policies: cfg.Policies, unverified: cfg.Unverified, mfa: cfg.MFA,
	}
	if h.unverified == nil {
		h.unverified = signature.NewBudget(16 << 20)
	}
	if h.respHTTP == nil {
		h.respHTTP = &http.Client{Timeout: 10 * time.Second}
	}
	base, err := parseResponseURLBase(cfg.ResponseURLBase)
	if err != nil {
		return nil, err
	}
	h.respBase = base
	if h.gh.HTTPClient == nil {
		h.gh.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if h.sl.HTTPClient == nil {
		h.sl.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if h.sl.Configured() {
		var err error
		if h.seal, err = oauth.NewSeal(h.sl.ClientSecret, linkSealPurpose); err != nil {
			return nil, fmt.Errorf("slack: %w", err)
		}
	}
	if h.maxBody <= 0 {
		h.maxBody = DefaultMaxBody
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	return h, nil
}

// Register adds the Slack endpoints and the linking pages (Sign in with
// Slack, then GitHub's OAuth) to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathCommands, h.ServeCommands)
	mux.HandleFunc("POST "+PathInteractions, h.ServeInteractions)
	mux.HandleFunc("GET "+PathOAuthStart, h.ServeLinkStart)
	mux.HandleFunc("GET "+PathSlackCallback, h.ServeSlackCallback)
	mux.HandleFunc("GET "+PathOAuthCallback, h.ServeOAuthCallback)
}

// Enqueued signals, without blocking, each time a request was persisted,
// so an inbox loop can start at once instead of at its next poll.
func (h *Handler) Enqueued() <-chan struct{} { return h.wake }

// Wait blocks until background replies started by request handlers
// (ephemeral refusals sent after acknowledging) have finished.
func (h *Handler) Wait() { h.bg.Wait() }

// background runs fn after the request was answered, with a fresh context
// that outlives the request but not 30 seconds.
func (h *Handler) background(fn func(ctx context.Context)) {
	h.bg.Go(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		fn(ctx)
	})
}

// enqueue persists one verified Slack request before it is acknowledged.
func (h *Handler) enqueue(ctx context.Context, kind string, body []byte) error {
	dup, err := h.store.Enqueue(ctx, inbox.Item{Source: "slack", DeliveryID: deliveryKey(body),
		EventType: kind, Payload: body})
	if err != nil {
		return err
	}
	outcome := "stored"
	if dup {
		outcome = "duplicate"
	}
	if !reqlog.AddAttrs(ctx, slog.String("slack_event", kind), slog.String("outcome", outcome)) && dup {
		h.log.InfoContext(ctx, "slack request already received", slog.String("kind", kind))
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
	return nil
}

// slackAccount is a Slack user as the domain names chat accounts.
func slackAccount(team, user string) bot.ChatIdentity {
	return bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: team, User: user}
}
