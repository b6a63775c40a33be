package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	slackapi "github.com/slack-go/slack"
	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/bot/config"
	"github.com/tollgate-dev/tollgate/deploy"
	ghint "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/integrations/httpserver"
	"github.com/tollgate-dev/tollgate/integrations/inbox"
	"github.com/tollgate-dev/tollgate/integrations/reqlog"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// server is Tollgate assembled from one configuration: the store, the
// domain service, the transports, the HTTP routes and the workers.
type server struct {
	log     *slog.Logger
	now     func() time.Time
	live    *liveConfig
	store   *store.Store
	signer  note.Signer
	svc     *bot.Service
	metrics *httpserver.Metrics
	inbox   *inbox.Worker
	slack   *slackint.Handler // nil without a slack section
	logDir  string
	wake    chan struct{} // nudges deploy workers: something was queued or finished
	handler http.Handler

	// compliance anchors checkpoints and runs the access checks (wire_compliance.go).
	compliance *compliance
}

// errConfig marks a failure caused by the configuration (exit code 2).
var errConfig = errors.New("configuration")

// newServer opens the store and builds every piece. The caller closes
// the store (server.close) when newServer succeeded.
func newServer(ctx context.Context, cfg *config.Config, log *slog.Logger, now func() time.Time) (*server, error) {
	// Every line logged with a request's context names the request, whichever
	// transport logs it.
	log = slog.New(reqlog.NewHandler(log.Handler()))
	l, err := load(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	signer, err := audit.LoadSigner(cfg.Audit.SigningKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: audit.signing_key_file: %w", errConfig, err)
	}
	appKey, err := githubAppKey(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errConfig, err)
	}
	logDir := filepath.Join(filepath.Dir(cfg.Database), "deploy-logs")
	if err := os.MkdirAll(logDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the deployment log directory: %w", err)
	}
	st, err := store.Open(ctx, cfg.Database, store.Options{Signer: signer, CheckpointEvery: cfg.Audit.CheckpointEvery, Now: now})
	if err != nil {
		return nil, err
	}
	s := &server{log: log, now: now, live: newLiveConfig(l), store: st, signer: signer, logDir: logDir,
		wake: make(chan struct{}, 1)}
	if err := s.build(ctx, cfg, appKey); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

// build wires the GitHub App, Slack, the domain and the HTTP routes.
func (s *server) build(ctx context.Context, cfg *config.Config, appKey []byte) error {
	app, err := ghint.NewApp(ctx, ghint.AppConfig{APIURL: cfg.GitHub.APIURL, AppID: cfg.GitHub.AppID,
		PrivateKey: appKey, Logger: s.log.With("component", "github"), Clock: s.now})
	if err != nil {
		return fmt.Errorf("%w: github: %w", errConfig, err)
	}
	dir := ghint.NewDirectory(app, 0)
	s.metrics = httpserver.NewMetrics(httpserver.MetricsSources{
		InboxCounts: func(ctx context.Context) (int, int, error) {
			c, err := s.store.Counts(ctx)
			return c.Pending, c.Failed, err
		},
		AuditSize: s.store.Audit().Size,
		LastCheckpoint: func(ctx context.Context) (time.Time, bool, error) {
			cp, ok, err := s.store.Audit().LatestCheckpoint(ctx)
			return cp.Time, ok, err
		},
		Now: s.now, Logger: s.log,
	})
	gate := ghint.NewProtectionRuleGate(app, cfg.PublicURL)
	// The Reporter records on the service, which is built with it: bind late.
	var recorder lateRecorder
	reporter, err := ghint.NewReporter(ghint.ReporterConfig{App: app, Recorder: &recorder, Audit: s, Gate: gate,
		PublicURL: cfg.PublicURL, Environment: s.environmentInfo, Logger: s.log.With("component", "github")})
	if err != nil {
		return fmt.Errorf("%w: github: %w", errConfig, err)
	}
	notifiers := bot.Notifiers{logNotifier{s.log.With("component", "bot")}, s.metrics, wakeOnQueue(s.wake), reporter}
	var slackNotifier *slackint.Notifier
	var slackAPI *slackapi.Client
	if cfg.Slack.Enabled {
		slackAPI = slackapi.New(cfg.Slack.BotToken.Value(), slackapi.OptionAPIURL(cfg.Slack.APIURL))
		slackNotifier, err = slackint.NewNotifier(slackint.NotifierConfig{Slack: slackAPI, Channel: cfg.Slack.Channel,
			PublicURL: cfg.PublicURL, GitHubWebURL: cfg.GitHub.WebURL, Clock: s.now, Logger: s.log.With("component", "slack"),
			Members: ghint.NewRoster(app), Links: s.store})
		if err != nil {
			return fmt.Errorf("%w: slack: %w", errConfig, err)
		}
		notifiers = append(notifiers, slackNotifier)
	}
	deployer := &deploy.BotDeployer{
		Engine:         newDeployEngine(cfg, s.log),
		Targets:        s.live.Target,
		Source:         githubSource(app),
		Log:            s.openDeployLog,
		ProtectionGate: gate,
		PublicURL:      cfg.PublicURL,
	}
	s.svc, err = bot.New(bot.Config{Store: s.store, Directory: dir, Changes: ghint.NewChanges(app),
		Deployer: deployer, Notifier: notifiers, Policies: s.live, Clock: s.now, Logger: s.log.With("component", "bot")})
	if err != nil {
		return err
	}
	recorder.svc = s.svc
	if s.compliance, err = newCompliance(s, app, cfg.Audit.SigningKeyFile); err != nil {
		return err
	}
	if slackNotifier != nil {
		slackNotifier.Bind(s.svc)
	}

	s.inbox = &inbox.Worker{Store: s.store, Clock: s.now, Logger: s.log.With("component", "inbox"),
		Observe: func(it store.InboxItem, o inbox.Outcome, _ time.Duration) {
			s.metrics.ObserveInbox(it.Source, string(o))
		}}
	handlers := map[string]inbox.Handler{}
	mux := http.NewServeMux()

	comments := ghint.NewComments(app)
	dispatcher, err := ghint.NewDispatcher(ghint.DispatcherConfig{Bot: s.svc,
		Routes: ghint.NewConfigRoutes(s.live.Current, cfg.GitHub.AppID), Reactor: comments, Replier: comments,
		Members: dir, Audit: s.store, Logger: s.log.With("component", "github")})
	if err != nil {
		return err
	}
	handlers["github"] = dispatcher.Handle
	// Deliveries arriving together share one durable transaction (group commit).
	intake := batchedIntake{s.store, s.store.InboxBatcher()}
	webhooks, err := ghint.NewWebhookHandler(ghint.WebhookConfig{Secret: cfg.GitHub.WebhookSecret.Value(),
		Inbox: intake, Kick: s.inbox.Kick, Logger: s.log.With("component", "github")})
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	mux.Handle("POST /webhooks/github", s.metrics.TimeAck("github", webhooks))

	if cfg.Slack.Enabled {
		s.slack, err = slackint.New(slackint.Config{SigningSecret: cfg.Slack.SigningSecret.Value(), Service: s.svc,
			Store: intake, Routing: slackint.ConfigRouting{Current: s.live.Current}, Slack: slackAPI,
			PublicURL: cfg.PublicURL, GitHub: slackint.GitHubOAuth{WebURL: cfg.GitHub.WebURL, APIURL: cfg.GitHub.APIURL,
				ClientID: cfg.GitHub.OAuthClientID, ClientSecret: cfg.GitHub.OAuthClientSecret.Value()},
			Clock: s.now, Logger: s.log.With("component", "slack"), AccessReviews: s.accessReviews, Policies: s.live})
		if err != nil {
			return fmt.Errorf("%w: slack: %w", errConfig, err)
		}
		handlers["slack"] = s.slack.HandleInboxItem
		slackMux := http.NewServeMux()
		s.slack.Register(slackMux)
		mux.Handle("/slack/", s.metrics.TimeAck("slack", slackMux))
		mux.Handle("/oauth/github/", slackMux)
	}
	s.inbox.Handle = inbox.BySource(handlers)

	mux.Handle("GET /healthz", httpserver.Healthz())
	mux.Handle("GET /readyz", httpserver.Readyz(2*time.Second, s.readinessChecks()...))
	mux.Handle("GET /metrics", s.metrics.Handler())
	if err := s.mountWebPages(mux, cfg); err != nil {
		return err
	}
	s.handler = httpserver.Logging(s.log, mux)
	return nil
}

// githubAppKey returns the App's private key, inline or from its file.
func githubAppKey(cfg *config.Config) ([]byte, error) {
	if !cfg.GitHub.PrivateKey.IsZero() {
		return []byte(cfg.GitHub.PrivateKey.Value()), nil
	}
	b, err := os.ReadFile(cfg.GitHub.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("github.private_key_file: %w", err)
	}
	return b, nil
}

// githubSource opens a commit's tree on GitHub: the engine fetches only
// the files no server has (git trees and blobs API) and downloads the
// tarball when that pays off better.
func githubSource(app *ghint.App) func(ctx context.Context, repo, sha string) (deploy.Source, io.Closer, error) {
	return func(ctx context.Context, repo, sha string) (deploy.Source, io.Closer, error) {
		return app.TreeSource(ctx, repo, sha), nil, nil
	}
}

// newDeployEngine is the SSH deploy engine; its content index (which git
// blob has which SHA-256, see deploy's package doc) lives next to the
// database.
func newDeployEngine(cfg *config.Config, log *slog.Logger) *deploy.Engine {
	return &deploy.Engine{Logger: log.With("component", "deploy"),
		ContentIndexFile: filepath.Join(filepath.Dir(cfg.Database), "deploy-content-index")}
}

// wakeOnQueue nudges the deploy workers when a request was queued or a
// deploy finished (its environment is free again).
type wakeOnQueue chan struct{}

// Notify implements bot.Notifier.
func (w wakeOnQueue) Notify(_ context.Context, n bot.Notification) error {
	if n.Request.State == bot.StateQueued || n.Kind == bot.NotifyFinished {
		select {
		case w <- struct{}{}:
		default:
		}
	}
	return nil
}

// lateRecorder passes the Reporter's bookkeeping to the service, which
// exists only after the Reporter (it is one of the service's notifiers).
type lateRecorder struct{ svc *bot.Service }

// SetGitHubDeployment implements ghint.RequestRecorder.
func (r *lateRecorder) SetGitHubDeployment(ctx context.Context, id string, deploymentID int64) error {
	return r.svc.SetGitHubDeployment(ctx, id, deploymentID)
}

// SetExternalRef implements ghint.RequestRecorder.
func (r *lateRecorder) SetExternalRef(ctx context.Context, id, key, value string) error {
	return r.svc.SetExternalRef(ctx, id, key, value)
}

// logNotifier writes one log line per request event.
type logNotifier struct{ log *slog.Logger }

// Notify implements bot.Notifier.
func (l logNotifier) Notify(ctx context.Context, n bot.Notification) error {
	r := n.Request
	attrs := []any{"kind", string(n.Kind), "request", r.ID, "repo", r.Repo, "environment", r.Environment,
		"state", string(r.State), "trigger", string(r.Trigger), "sha", r.SHA}
	if n.Actor.Login != "" {
		attrs = append(attrs, "actor", n.Actor.Login)
	}
	if r.StateReason != "" {
		attrs = append(attrs, "reason", r.StateReason)
	}
	if r.Result != nil && n.Kind == bot.NotifyFinished {
		attrs = append(attrs, "release", r.Result.Release, "duration_ms", r.Result.Duration.Milliseconds())
	}
	l.log.InfoContext(ctx, "request "+string(n.Kind), attrs...)
	return nil
}

// batchedIntake is the store with Enqueue routed through group commit, so a
// burst of webhook and Slack deliveries costs one fsync rather than one each.
type batchedIntake struct {
	*store.Store
	batch *store.InboxBatcher
}

// Enqueue stores it durably together with any deliveries arriving at once.
func (b batchedIntake) Enqueue(ctx context.Context, it store.InboxItem) (bool, error) {
	return b.batch.Enqueue(ctx, it)
}
