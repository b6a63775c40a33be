// Package server is the running application: New assembles Tollgate from
// one validated configuration (the store, the domain service, the
// transports, the HTTP routes) and Run serves it: the deploy workers (bot's
// one scheduling loop), the inbox workers, the sweeps and the compliance
// loop, configuration reloads, and a graceful shutdown. cmd/tollgate only
// parses flags and calls it.
package server

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
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/deploy"
	"github.com/tollgate-dev/tollgate/deploy/attest"
	ghint "github.com/tollgate-dev/tollgate/integrations/github"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/internal/httpserver"
	"github.com/tollgate-dev/tollgate/internal/inbox"
	"github.com/tollgate-dev/tollgate/internal/reqlog"
	"github.com/tollgate-dev/tollgate/internal/signature"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// Server is Tollgate assembled from one configuration: the store, the
// domain service, the transports, the HTTP routes and the workers.
type Server struct {
	log     *slog.Logger
	now     func() time.Time
	version string
	live    *liveConfig
	store   *store.Store
	signer  note.Signer
	// attestKey signs deployment attestations; nil when
	// attestation.signing_key_file is not set (logged at start).
	attestKey *attest.SigningKey
	svc       *bot.Service
	metrics   *httpserver.Metrics
	inbox     *inbox.Worker
	slack     *slackint.Handler // nil without a slack section
	outbox    *outboxWorker     // delivers request notifications to GitHub and Slack
	// legacyLogDir holds the deployment logs of a SQLite install from before
	// they moved into the database; "" when there is none to read.
	legacyLogDir string
	replica      *replica    // this process among the replicas sharing the database
	leader       *leadership // the singleton jobs' lease
	handler      http.Handler

	// compliance anchors checkpoints and runs the access checks (wire_compliance.go).
	compliance *compliance
	// auditMonitor verifies the audit log in the background for /audit
	// (wire_web.go); nil when the pages are not served.
	auditMonitor *audit.Monitor

	// driftEngine runs the scheduled drift checks (drift_job.go);
	// driftAlert tells the channel of a drift; nil without Slack.
	driftEngine *deploy.Engine
	driftAlert  bot.Notifier
}

// ErrConfig marks a failure caused by the configuration (exit code 2).
var ErrConfig = errors.New("configuration")

// Options tune how a Server is built; zero values take defaults.
type Options struct {
	Logger  *slog.Logger     // nil: discard
	Clock   func() time.Time // nil: time.Now
	Version string           // recorded in the server.started audit entry
}

// New opens the store and builds every piece. The caller calls Close when
// New succeeded. A failure caused by the configuration wraps ErrConfig.
func New(ctx context.Context, cfg *config.Config, opts Options) (*Server, error) {
	log, now := opts.Logger, opts.Clock
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	// Every line logged with a request's context names the request, whichever
	// transport logs it.
	log = slog.New(reqlog.NewHandler(log.Handler()))
	l, err := load(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	signer, err := audit.LoadSigner(cfg.Audit.SigningKeyFile)
	if err != nil {
		return nil, fmt.Errorf("%w: audit.signing_key_file: %w", ErrConfig, err)
	}
	attestKey, err := loadAttestationKey(cfg, log)
	if err != nil {
		return nil, err
	}
	appKey, err := cfg.GitHub.AppPrivateKey()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	replicaID, host := newReplicaID()
	st, err := store.Open(ctx, cfg.Database, store.Options{Signer: signer, CheckpointEvery: cfg.Audit.CheckpointEvery, Now: now,
		Replica: replicaID})
	if err != nil {
		return nil, err
	}
	s := &Server{log: log, now: now, version: opts.Version, live: newLiveConfig(l), store: st, signer: signer, attestKey: attestKey}
	if !store.IsPostgres(cfg.Database) {
		if dir := filepath.Join(filepath.Dir(cfg.Database), "deploy-logs"); dirExists(dir) {
			s.legacyLogDir = dir
		}
	}
	s.replica = newReplica(replicaID, host, opts.Version, cfg.Replicas.Lease, st, log.With("component", "replica"))
	s.leader = newLeadership(s.replica)
	if err := s.build(ctx, cfg, appKey); err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

// build wires the GitHub App, Slack, the domain and the HTTP routes.
func (s *Server) build(ctx context.Context, cfg *config.Config, appKey []byte) error {
	app, err := ghint.NewApp(ctx, ghint.AppConfig{APIURL: cfg.GitHub.APIURL, AppID: cfg.GitHub.AppID,
		PrivateKey: appKey, Logger: s.log.With("component", "github"), Clock: s.now})
	if err != nil {
		return fmt.Errorf("%w: github: %w", ErrConfig, err)
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
	reporter, err := ghint.NewReporter(ghint.ReporterConfig{App: app, Recorder: &recorder, Audit: s, Reviews: s, Gate: gate,
		PublicURL: cfg.PublicURL, Environment: s.environmentInfo, Logger: s.log.With("component", "github")})
	if err != nil {
		return fmt.Errorf("%w: github: %w", ErrConfig, err)
	}
	// Request transitions reach GitHub and Slack through the outbox (written
	// in the transition's transaction, delivered by s.outbox); the direct
	// chain logs and counts everything and carries the other notifications.
	external := map[string]bot.Notifier{"github": reporter}
	notifiers := bot.Notifiers{logNotifier{s.log.With("component", "bot")}, s.metrics, fromOutbox{reporter}}
	var slackNotifier *slackint.Notifier
	var slackAPI *slackapi.Client
	if cfg.Slack.Enabled {
		slackAPI = slackapi.New(cfg.Slack.BotToken.Value(), slackapi.OptionAPIURL(cfg.Slack.APIURL))
		slackNotifier, err = slackint.NewNotifier(slackint.NotifierConfig{Slack: slackAPI, Channel: cfg.Slack.Channel,
			PublicURL: cfg.PublicURL, GitHubWebURL: cfg.GitHub.WebURL, Clock: s.now, Logger: s.log.With("component", "slack"),
			Members: ghint.NewRoster(app), Links: s.store, Reviews: s})
		if err != nil {
			return fmt.Errorf("%w: slack: %w", ErrConfig, err)
		}
		external["slack"] = slackNotifier
		notifiers = append(notifiers, fromOutbox{slackNotifier})
	}
	s.driftEngine = &deploy.Engine{Logger: s.log.With("component", "drift")}
	if slackNotifier != nil {
		s.driftAlert = slackNotifier // without Slack the log line of each check is the alert (drift_job.go)
	}
	sshDeployer := &deploy.BotDeployer{
		Engine:  newDeployEngine(cfg, s.log),
		Targets: s.live.Target,
		Source:  githubSource(app),
		Log:     s.openDeployLog,
		Recorded: func(ctx context.Context, repo, env, release string) (string, error) {
			dep, _, err := bot.FindDeployOf(ctx, s.store, repo, env, release)
			if err != nil || dep.Result == nil {
				return "", err
			}
			return dep.Result.ManifestDigest, nil
		},
	}
	// Every release that goes live is attested through the outbox: exactly
	// once, retried, surviving restarts (attestation.go). Its name sorts
	// before github and slack, so it runs first.
	external["attestation"] = s.attestationDestination(sshDeployer)
	s.outbox = newOutboxWorker(s.store, external, s.now, s.log.With("component", "outbox"))
	notifiers = append(notifiers, deliverNow{s.outbox})
	routed := deployRouter{typeOf: s.live.TargetType, byType: map[string]bot.Deployer{
		config.TargetSSH:         sshDeployer,
		config.TargetActionsGate: gate,
	}}
	// A deploy runs under this replica's hold: when its heartbeat lapses
	// the deploy stops and ends interrupted (replica.go).
	deployer := heldDeployer{Deployer: routed, hold: s.replica.holdContext}
	s.svc, err = bot.New(bot.Config{Store: s.store, Directory: dir, Changes: ghint.NewChanges(app),
		Deployer: deployer, Notifier: notifiers, Policies: s.live, Clock: s.now, Logger: s.log.With("component", "bot"),
		Admins: s.live.AdminTeams})
	if err != nil {
		return err
	}
	recorder.svc = s.svc
	if s.compliance, err = newCompliance(s, app, cfg.Audit.SigningKeyFile); err != nil {
		return err
	}
	s.registerReplicaMetrics()
	s.metrics.Registry().MustRegister(driftCollector{s})
	if slackNotifier != nil {
		slackNotifier.Bind(s.svc)
	}

	s.inbox = &inbox.Worker{Store: s.store, Clock: s.now, Logger: s.log.With("component", "inbox"),
		Observe: func(it inbox.Item, o inbox.Outcome, _ time.Duration) {
			s.metrics.ObserveInbox(it.Source, string(o))
		}}
	handlers := map[string]inbox.Handler{}
	mux := http.NewServeMux()

	comments := ghint.NewComments(app)
	dispatcher, err := ghint.NewDispatcher(ghint.DispatcherConfig{Bot: s.svc,
		AppID: cfg.GitHub.AppID, Reactor: comments, Replier: comments,
		Members: dir, Audit: s.store, Logger: s.log.With("component", "github"), Access: s.accessChanges,
		Standing: ghint.NewRoster(app)})
	if err != nil {
		return err
	}
	handlers["github"] = dispatcher.Handle
	// Deliveries arriving together share one durable transaction (group commit).
	intake := batchedIntake{s.store, s.store.InboxBatcher()}
	// One bound on the request bodies held before their signatures are
	// checked, whoever sends them (issue 10).
	unverified := signature.NewBudget(ghint.DefaultUnverifiedBudget)
	webhooks, err := ghint.NewWebhookHandler(ghint.WebhookConfig{Secret: cfg.GitHub.WebhookSecret.Value(),
		Inbox: intake, Kick: s.inbox.Kick, Logger: s.log.With("component", "github"), Unverified: unverified})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	mux.Handle("POST /webhooks/github", s.metrics.TimeAck("github", webhooks))

	if cfg.Slack.Enabled {
		s.slack, err = slackint.New(slackint.Config{SigningSecret: cfg.Slack.SigningSecret.Value(), Service: s.svc,
			Store: intake, Routing: s.live, Slack: slackAPI, ResponseURLBase: cfg.Slack.ResponseURLBase,
			Unverified: unverified,
			PublicURL:  cfg.PublicURL, GitHub: slackint.GitHubOAuth{WebURL: cfg.GitHub.WebURL, APIURL: cfg.GitHub.APIURL,
				ClientID: cfg.GitHub.OAuthClientID, ClientSecret: cfg.GitHub.OAuthClientSecret.Value()},
			SignIn: slackint.SlackSignIn{WebURL: cfg.Slack.WebURL, APIURL: cfg.Slack.APIURL,
				ClientID: cfg.Slack.ClientID, ClientSecret: cfg.Slack.ClientSecret.Value()},
			Clock: s.now, Logger: s.log.With("component", "slack"), AccessReviews: s.accessReviews, Policies: s.live,
			MFA: s.mfaStates(cfg)})
		if err != nil {
			return fmt.Errorf("%w: slack: %w", ErrConfig, err)
		}
		handlers["slack"] = s.slack.HandleInboxItem
		slackMux := http.NewServeMux()
		s.slack.Register(slackMux)
		mux.Handle("/slack/", s.metrics.TimeAck("slack", slackMux))
		mux.Handle("/oauth/", slackMux) // the linking pages: Sign in with Slack, then GitHub
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

// githubSource opens a commit's tree on GitHub: the engine fetches only
// the files no server has (git trees and blobs API) and downloads the
// tarball when that pays off better.
func githubSource(app *ghint.App) func(ctx context.Context, repo, sha string) (deploy.Source, io.Closer, error) {
	return func(ctx context.Context, repo, sha string) (deploy.Source, io.Closer, error) {
		return app.TreeSource(ctx, repo, sha), nil, nil
	}
}

// newDeployEngine is the SSH deploy engine. Its content index (which git
// blob has which SHA-256, see deploy's package doc) is a cache: beside a
// SQLite database; in memory with PostgreSQL, whose replicas share no
// directory (a replica that restarts reads each environment's next
// release from the tarball once).
func newDeployEngine(cfg *config.Config, log *slog.Logger) *deploy.Engine {
	e := &deploy.Engine{Logger: log.With("component", "deploy")}
	if !store.IsPostgres(cfg.Database) {
		e.ContentIndexFile = filepath.Join(filepath.Dir(cfg.Database), "deploy-content-index")
	}
	return e
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
func (b batchedIntake) Enqueue(ctx context.Context, it inbox.Item) (bool, error) {
	return b.batch.Enqueue(ctx, it)
}

// dirExists reports whether path is a directory.
func dirExists(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// Close closes the store. Call it once Run returned (or instead of Run).
func (s *Server) Close() error { return s.store.Close() }

// Store is the server's database, for the demo and for tests that look
// at what a run recorded.
func (s *Server) Store() *store.Store { return s.store }

// Service is the domain service the server runs.
func (s *Server) Service() *bot.Service { return s.svc }

// Config is the configuration in force (a reload swaps it).
func (s *Server) Config() *config.Config { return s.live.Current() }

// Handler is the server's HTTP handler: every route, behind the request
// logging.
func (s *Server) Handler() http.Handler { return s.handler }
