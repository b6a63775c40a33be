package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/store"
)

// Audit actions of the server itself.
const (
	actionServerStarted       = "server.started"
	actionServerStopped       = "server.stopped"
	actionConfigReloaded      = "config.reloaded"
	actionConfigReloadRefused = "config.reload_refused"
	expiryInterval            = 30 * time.Second
	deployPollInterval        = 5 * time.Second
	httpShutdownTimeout       = 15 * time.Second
	interruptedRecordTimeout  = 30 * time.Second
	// DefaultShutdownGrace is how long running deploys may finish after
	// a stop signal before they are marked interrupted.
	DefaultShutdownGrace = 2 * time.Minute
	// DefaultDeployWorkers is how many deploys may run at once (one per
	// environment regardless).
	DefaultDeployWorkers       = 4
	checkpointOnShutdownBudget = 10 * time.Second
	outboxDrainBudget          = 10 * time.Second
)

// RunOptions tune how the server runs.
type RunOptions struct {
	ConfigPath    string
	Workers       int           // deploy workers
	ShutdownGrace time.Duration // how long running deploys may finish after a stop signal
	Listener      net.Listener  // nil: listen on the config's address
	Ready         func(addr string)
	Reload        <-chan struct{} // a receive reloads the configuration (SIGHUP)
}

// Run serves until ctx ends, then shuts down in order: stop accepting,
// stop taking work, give up the jobs lease, let running deploys finish
// within the grace period, mark what is left interrupted, sign a
// checkpoint, and leave the replicas (what this one still holds is taken
// over at once).
func (s *Server) Run(ctx context.Context, opts RunOptions) error {
	bg := context.WithoutCancel(ctx)
	if err := s.replica.register(bg); err != nil {
		return fmt.Errorf("registering this replica: %w", err)
	}
	// Work held by replicas that are gone (on SQLite: the process this one
	// replaces) is taken over now rather than when its leases run out.
	released, err := s.store.ReleaseInboxLeases(bg)
	if err != nil {
		return fmt.Errorf("releasing inbox leases of replicas that stopped: %w", err)
	}
	if released > 0 {
		s.log.Warn("inbox deliveries leased by replicas that stopped were handed back", "count", released)
	}
	n, err := s.interruptOrphans(bg)
	if err != nil {
		return fmt.Errorf("ending requests left running by replicas that stopped: %w", err)
	}
	cfg := s.live.Current()
	if err := s.store.AppendAudit(bg, bot.AuditEvent{Actor: "tollgate", Action: actionServerStarted, Subject: cfg.File,
		Data: map[string]any{"config_hash": cfg.Hash(), "version": s.version, "interrupted_requests": n,
			"replica": s.replica.id}}); err != nil {
		return fmt.Errorf("auditing the start: %w", err)
	}
	// The replica's heartbeat, its wake-ups and the jobs it may lead run
	// until the very end: deploys finishing in the grace period stay ours.
	replicaCtx, stopReplica := context.WithCancel(bg)
	var replicaWG sync.WaitGroup
	defer func() {
		stopReplica()
		replicaWG.Wait()
		s.replica.leave(bg)
	}()
	replicaWG.Go(func() { s.heartbeatLoop(replicaCtx) })
	replicaWG.Go(func() { s.replica.watchHold(replicaCtx) })
	replicaWG.Go(func() { s.store.Listen(replicaCtx, s.woken, s.listenFailed) })
	jobsDone := make(chan struct{})
	go func() { defer close(jobsDone); s.leader.run(replicaCtx, s.runLeaderJobs) }()

	ln := opts.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return fmt.Errorf("listening on %s: %w", cfg.Listen, err)
		}
	}
	httpSrv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)}
	httpDone := make(chan error, 1)
	go func() { httpDone <- httpSrv.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String(), "config_hash", cfg.Hash(), "version", s.version,
		"replica", s.replica.id, "database", s.store.Engine())

	workCtx, stopWork := context.WithCancel(bg) // stop taking new work
	runCtx, abortRuns := context.WithCancel(bg) // abort deploys still running after the grace period
	defer abortRuns()
	var inboxWG, deployWG sync.WaitGroup
	deployWG.Go(func() { s.svc.RunWorkers(workCtx, runCtx, opts.Workers, deployPollInterval) })
	inboxWG.Go(func() { _ = s.inbox.Run(workCtx) })
	if s.slack != nil {
		inboxWG.Go(func() { s.forwardSlackKicks(workCtx) })
	}
	// The outbox drains until the deploys are done (their last statuses go
	// out too) and stops with them.
	outboxCtx, stopOutbox := context.WithCancel(bg)
	outboxDone := make(chan struct{})
	go func() { defer close(outboxDone); s.outbox.Run(outboxCtx) }()
	// Every replica serves /audit, so each verifies in the background; the
	// compliance loop is a singleton job (runLeaderJobs).
	if s.auditMonitor != nil {
		inboxWG.Go(func() { s.auditMonitor.Run(workCtx) })
	}
	if opts.Ready != nil {
		opts.Ready(ln.Addr().String())
	}

	var serveErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-httpDone:
			serveErr = fmt.Errorf("http server: %w", err)
			break loop
		case <-opts.Reload:
			s.reload(bg, opts.ConfigPath)
		}
	}

	s.log.Info("shutting down: no longer accepting requests")
	sctx, cancel := context.WithTimeout(bg, httpShutdownTimeout)
	if err := httpSrv.Shutdown(sctx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	cancel()
	if s.slack != nil {
		s.slack.Wait()
	}
	stopWork()
	inboxWG.Wait()
	// Another replica takes the jobs over at once; the shutdown checkpoint
	// is anchored below only if this one ran them (one anchorer at a time).
	wasLeading := s.leader.isLeading()
	s.leader.resign(bg)
	s.finishDeploys(bg, &deployWG, abortRuns, opts.ShutdownGrace)
	stopOutbox()
	<-outboxDone
	s.drainOutbox(bg)

	cctx, cancel := context.WithTimeout(bg, checkpointOnShutdownBudget)
	defer cancel()
	if err := s.store.AppendAudit(cctx, bot.AuditEvent{Actor: "tollgate", Action: actionServerStopped,
		Subject: s.live.Current().File, Data: map[string]any{"config_hash": s.live.Current().Hash(), "replica": s.replica.id}}); err != nil {
		serveErr = errors.Join(serveErr, fmt.Errorf("auditing the stop: %w", err))
	}
	if cp, err := s.store.Audit().Checkpoint(cctx); err != nil {
		serveErr = errors.Join(serveErr, fmt.Errorf("writing the shutdown checkpoint: %w", err))
	} else {
		s.log.Info("audit checkpoint written", "tree_size", cp.Size)
		if wasLeading {
			s.publishAnchorsAtShutdown(bg)
		}
	}
	stopReplica()
	<-jobsDone
	return serveErr
}

// finishDeploys waits up to grace for the deploy workers (each finishes
// the deploy it runs); then it aborts what still runs, which bot records
// as interrupted, and marks anything of this replica left over
// interrupted itself.
func (s *Server) finishDeploys(ctx context.Context, wg *sync.WaitGroup, abort context.CancelFunc, grace time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return
	case <-time.After(grace):
	}
	s.log.Warn("deploys still running after the shutdown grace period are interrupted", "grace", grace.String())
	abort()
	select {
	case <-done:
		return
	case <-time.After(interruptedRecordTimeout):
	}
	ids, err := s.store.RunsOf(ctx, s.replica.id)
	if err == nil {
		var n int
		n, err = s.svc.MarkInterrupted(ctx, ids, "the process stopped while the deploy ran")
		s.log.Warn("requests marked interrupted at shutdown", "count", n)
	}
	if err != nil {
		s.log.Error("marking running requests interrupted", "err", err)
	}
}

// woken passes a wake-up from another replica (store.Listen) to the
// workers it concerns; "" (wake-ups may have been missed) wakes them all.
func (s *Server) woken(topic string) {
	switch topic {
	case store.WakeDeploy:
		s.svc.Kick()
	case store.WakeInbox:
		s.inbox.Kick()
	case store.WakeLeader:
		s.leader.tryNow()
	case "":
		s.svc.Kick()
		s.inbox.Kick()
		s.outbox.Kick()
		s.leader.tryNow()
	}
}

// listenFailed logs a lost wake-up connection; the workers poll meanwhile.
func (s *Server) listenFailed(err error) {
	s.log.Warn("listening for other replicas' wake-ups failed; reconnecting (workers poll meanwhile)", "err", err)
}

// expireLoop expires requests whose approval deadline passed, and runs
// the emergency-review and lock reminders (each step is recorded, so a
// repeated sweep changes nothing).
func (s *Server) expireLoop(ctx context.Context) {
	t := time.NewTicker(expiryInterval)
	defer t.Stop()
	for {
		if n, err := s.svc.ExpireStale(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("expiring stale requests", "err", err)
		} else if n > 0 {
			s.log.Info("requests expired", "count", n)
		}
		if res, err := s.svc.SweepEmergencyReviews(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("sweeping emergency reviews", "err", err)
		} else if res != (bot.SweepResult{}) {
			s.log.Info("emergency reviews swept", "opened", res.Opened, "reminded", res.Reminded, "overdue", res.Overdue)
		}
		if n, err := s.svc.RemindLocks(ctx, s.live.Current().Locks.RemindAfter); err != nil && ctx.Err() == nil {
			s.log.Error("reminding lock owners", "err", err)
		} else if n > 0 {
			s.log.Info("lock reminders sent", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// forwardSlackKicks wakes the inbox worker when Slack persisted a request.
func (s *Server) forwardSlackKicks(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.slack.Enqueued():
			s.inbox.Kick()
		}
	}
}

// reload reads the config file again and puts it in force when it is
// valid and converts; the reload is audited first (fail closed: without
// the audit entry the old configuration stays). An invalid file is
// refused, logged and audited, and the old configuration stays.
func (s *Server) reload(ctx context.Context, path string) {
	old := s.live.Current()
	next, _, err := config.Load(path)
	var l *loaded
	if err == nil {
		l, err = load(next)
	}
	if err != nil {
		s.log.Error("configuration reload refused; the previous configuration stays in force", "file", path, "err", err)
		data := map[string]any{"config_hash": old.Hash(), "problems": problemPlaces(err)}
		if aerr := s.store.AppendAudit(ctx, bot.AuditEvent{Actor: "tollgate", Action: actionConfigReloadRefused,
			Subject: path, Data: data}); aerr != nil {
			s.log.Error("auditing the refused reload", "err", aerr)
		}
		return
	}
	restart := restartOnly(old, next)
	if err := s.store.AppendAudit(ctx, bot.AuditEvent{Actor: "tollgate", Action: actionConfigReloaded, Subject: path,
		Data: map[string]any{"previous_hash": old.Hash(), "config_hash": next.Hash(), "needs_restart": restart}}); err != nil {
		s.log.Error("configuration reload not applied: could not audit it", "err", err)
		return
	}
	s.live.Swap(l)
	s.log.Info("configuration reloaded", "config_hash", next.Hash(), "previous_hash", old.Hash())
	if len(restart) > 0 {
		s.log.Warn("these settings changed but only take effect after a restart", "keys", restart)
	}
}

// problemPlaces lists where a configuration is wrong (file:line: key)
// without the messages, which may quote values, for the audit log.
func problemPlaces(err error) []string {
	var ve *config.ValidationError
	if errors.As(err, &ve) {
		out := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			out[i] = fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Key)
		}
		return out
	}
	return []string{"the configuration does not convert into policies and targets"}
}

// drainOutbox gives the outbox a last chance, within a budget, to deliver
// what the final transitions wrote; what is left goes out after the next
// start.
func (s *Server) drainOutbox(ctx context.Context) {
	dctx, cancel := context.WithTimeout(ctx, outboxDrainBudget)
	defer cancel()
	for dctx.Err() == nil {
		n, err := s.outbox.deliverDue(dctx)
		if err != nil || n == 0 {
			return
		}
	}
}
