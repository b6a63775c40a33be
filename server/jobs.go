package server

import (
	"context"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/integrations/web"
)

// pruneInterval is how often the leader deletes expired web sessions and
// the rows of replicas long gone; replicaKeep is how long a stopped
// replica's row stays (for `tollgate doctor` and the metrics' history).
const (
	pruneInterval = 10 * time.Minute
	replicaKeep   = time.Hour
)

// runLeaderJobs runs the singleton jobs while this replica holds the jobs
// lease (leader.go), until ctx ends: the sweeps and reminders (expireLoop),
// anchoring and the access checks (complianceLoop), the pruning and the
// drift checks (driftLoop).
func (s *Server) runLeaderJobs(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { s.expireLoop(ctx) })
	wg.Go(func() { s.complianceLoop(ctx) })
	wg.Go(func() { s.pruneLoop(ctx) })
	wg.Go(func() { s.driftLoop(ctx) })
	wg.Wait()
}

// pruneLoop deletes expired web sessions and old replica rows.
func (s *Server) pruneLoop(ctx context.Context) {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		now := s.now()
		if n, err := s.store.PruneWebSessions(ctx, now.Add(-web.DefaultSessionIdle), now.Add(-web.DefaultSessionMax)); err != nil && ctx.Err() == nil {
			s.log.Warn("pruning expired web sessions", "err", err)
		} else if n > 0 {
			s.log.Info("expired web sessions pruned", "count", n)
		}
		if _, err := s.store.PruneReplicas(ctx, replicaKeep); err != nil && ctx.Err() == nil {
			s.log.Warn("pruning the rows of stopped replicas", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
