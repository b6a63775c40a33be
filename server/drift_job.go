package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/bot"
)

// driftLoop is the scheduled drift check (drift.interval; 0 off): a
// singleton job of the jobs leader (runLeaderJobs). Every interval it
// checks every ssh environment whose deploy is not running, and records
// each check (bot.RecordDrift: the audit entries, the deduplicated Slack
// alert, the row the metrics, /environments and doctor read).
func (s *Server) driftLoop(ctx context.Context) {
	// A reload may change the interval, or turn the check on or off: it
	// is read again after each wait.
	wait := func() time.Duration {
		if iv := s.live.Current().Drift.Interval; iv > 0 {
			return iv
		}
		return driftOffPoll
	}
	// The first check comes soon after the replica starts leading, so
	// restarts more frequent than the interval do not skip every check.
	t := time.NewTimer(min(wait(), driftFirstCheck))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if s.live.Current().Drift.Interval > 0 {
			s.checkDriftOnce(ctx)
		}
		t.Reset(wait())
	}
}

// driftFirstCheck bounds the wait for a new leader's first drift check.
const driftFirstCheck = time.Minute

// driftOffPoll is how often a leader with drift.interval 0 looks whether
// a reload turned the check on.
const driftOffPoll = time.Minute

// checkDriftOnce checks every ssh environment once.
func (s *Server) checkDriftOnce(ctx context.Context) {
	d := driftChecker{engine: s.driftEngine, requests: s.store, keys: s.live.Current().AttestationKeys, attestations: s.store}
	for _, e := range s.live.cur.Load().targets.List() {
		if ctx.Err() != nil {
			return
		}
		if running, err := s.deployRunning(ctx, e.Repo, e.Name); err != nil || running {
			if err != nil {
				s.log.Warn("drift check: reading the requests", "repo", e.Repo, "environment", e.Name, "err", err)
			}
			continue // a deploy switching current mid-check is not drift; the next interval checks
		}
		c, _, err := d.check(ctx, e.Repo, e.Name, e.Target)
		if err != nil {
			s.log.Warn("drift check failed", "repo", e.Repo, "environment", e.Name, "err", err)
			continue
		}
		if s.deployedDuring(ctx, e.Repo, e.Name, c.Expected) {
			continue // a deploy started or finished meanwhile: what was compared may be half of each
		}
		out, err := bot.RecordDrift(ctx, s.store, s.driftAlert, c)
		if err != nil {
			s.log.Warn("drift check: recording", "repo", e.Repo, "environment", e.Name, "err", err)
		}
		level := s.log.Info
		if c.Drifted() {
			level = s.log.Warn
		}
		level("drift check", "repo", e.Repo, "environment", e.Name, "drifted", c.Drifted(), "complete", c.Complete(),
			"new_finding", out.Detected, "cleared", out.Cleared, "alerted", out.Alerted)
	}
}

// deployRunning reports whether a deploy or rollback of repo/env runs now.
func (s *Server) deployRunning(ctx context.Context, repo, env string) (bool, error) {
	rs, err := s.store.ListRequests(ctx, bot.RequestFilter{Repo: repo, Environment: env, States: []bot.State{bot.StateRunning}, Limit: 1})
	return len(rs) > 0, err
}

// deployedDuring reports whether a deploy of repo/env ran since the check
// read what Tollgate put live (want): running now, or another release live.
func (s *Server) deployedDuring(ctx context.Context, repo, env string, want bot.LiveRelease) bool {
	running, err := s.deployRunning(ctx, repo, env)
	if err != nil || running {
		return true
	}
	now, _, err := bot.FindLiveRelease(ctx, s.store, repo, env)
	return err != nil || now.RequestID != want.RequestID
}

// driftCollector serves the last drift check of every environment from
// the database, so every replica's /metrics agrees with the leader's:
// tollgate_drift_paths{repository,environment,server} counts the drifted
// paths and other findings of each server (0 clean), and
// tollgate_drift_last_check_timestamp_seconds{repository,environment}
// says when the environment was last checked.
type driftCollector struct{ s *Server }

var (
	driftPathsDesc = prometheus.NewDesc("tollgate_drift_paths",
		"Paths (and other findings) by which a server differed from the release Tollgate put live, at the environment's last drift check; 0 when clean.",
		[]string{"repository", "environment", "server"}, nil)
	driftCheckedDesc = prometheus.NewDesc("tollgate_drift_last_check_timestamp_seconds",
		"When the environment's servers were last checked for drift (unix seconds).",
		[]string{"repository", "environment"}, nil)
)

// Describe implements prometheus.Collector.
func (d driftCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- driftPathsDesc
	ch <- driftCheckedDesc
}

// Collect implements prometheus.Collector.
func (d driftCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), metricsReadTimeout)
	defer cancel()
	checks, err := d.s.store.LatestDriftChecks(ctx)
	if err != nil {
		d.s.log.Warn("metrics: reading the drift checks", "err", err)
		return
	}
	for _, c := range checks {
		ch <- prometheus.MustNewConstMetric(driftCheckedDesc, prometheus.GaugeValue, float64(c.CheckedAt.Unix()), c.Repo, c.Environment)
		for _, srv := range c.Servers {
			if srv.Error != "" {
				continue // not checked: no value rather than a false 0
			}
			n := len(srv.Findings)
			for _, ps := range srv.Paths {
				n += len(ps)
			}
			ch <- prometheus.MustNewConstMetric(driftPathsDesc, prometheus.GaugeValue, float64(n), c.Repo, c.Environment, srv.Server)
		}
	}
}
