package server

import (
	"context"
	"math"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tollgate-dev/tollgate/store"
)

// registerReplicaMetrics adds this replica's gauges: what it holds, whether
// it runs the singleton jobs, how far behind the inbox is, what the outbox
// still has to deliver, and how many replicas are alive. Every replica
// serves its own /metrics; scrape each (docs/ha.md).
func (s *Server) registerReplicaMetrics() {
	held := func(pick func(store.Held) int) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), metricsReadTimeout)
			defer cancel()
			h, err := s.store.HeldBy(ctx, s.replica.id)
			if err != nil {
				s.log.Warn("metrics: reading what this replica holds", "err", err)
				return math.NaN()
			}
			return float64(pick(h))
		}
	}
	gauge := func(name, help string, labels prometheus.Labels, fn func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, fn)
	}
	const heldHelp = "What this replica holds now: inbox leases, outbox claims, running deploys, the jobs lease (0 or 1)."
	s.metrics.Registry().MustRegister(
		gauge("tollgate_replica_leases_held", heldHelp, prometheus.Labels{"kind": "inbox"}, held(func(h store.Held) int { return h.InboxLeases })),
		gauge("tollgate_replica_leases_held", heldHelp, prometheus.Labels{"kind": "outbox"}, held(func(h store.Held) int { return h.OutboxClaims })),
		gauge("tollgate_replica_leases_held", heldHelp, prometheus.Labels{"kind": "deploy"}, held(func(h store.Held) int { return h.Deploys })),
		gauge("tollgate_replica_leases_held", heldHelp, prometheus.Labels{"kind": "jobs"}, func() float64 { return boolGauge(s.leader.isLeading()) }),
		gauge("tollgate_jobs_leader", "1 when this replica runs the singleton jobs (sweeps, reminders, anchoring, access checks).", nil,
			func() float64 { return boolGauge(s.leader.isLeading()) }),
		gauge("tollgate_replica_heartbeat_age_seconds", "Seconds since this replica last renewed its lease in the database.", nil,
			func() float64 { return s.replica.heartbeatAge().Seconds() }),
		gauge("tollgate_inbox_lag_seconds", "How long the oldest delivery due for processing has waited (0: none waits).", nil,
			s.dbGauge("inbox lag", func(ctx context.Context) (float64, error) {
				d, err := s.store.InboxLag(ctx, s.now())
				return d.Seconds(), err
			})),
		gauge("tollgate_outbox_pending", "Notifications in the outbox not yet delivered to every destination.", nil,
			s.dbGauge("outbox", func(ctx context.Context) (float64, error) {
				n, _, err := s.store.OutboxCounts(ctx)
				return float64(n), err
			})),
		gauge("tollgate_replicas_alive", "Replicas whose heartbeat is current, this one included.", nil,
			s.dbGauge("replicas", func(ctx context.Context) (float64, error) {
				rs, err := s.store.Replicas(ctx)
				return float64(len(rs)), err
			})),
	)
}

// dbGauge reads a gauge's value from the database within a budget; NaN
// when it cannot be read.
func (s *Server) dbGauge(what string, read func(context.Context) (float64, error)) func() float64 {
	return func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), metricsReadTimeout)
		defer cancel()
		v, err := read(ctx)
		if err != nil {
			s.log.Warn("metrics: reading "+what, "err", err)
			return math.NaN()
		}
		return v
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
