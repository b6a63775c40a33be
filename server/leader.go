package server

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/store"
)

// jobsLease names the leader lease of the singleton jobs: the sweeps
// (approval expiry, emergency reviews, lock reminders), anchoring, the drift checks,
// the daily access checks and the tables' pruning run on the one replica
// holding it (runLeaderJobs). Reminders are also marked sent in the
// database before they go out, so even two leaders could not send one twice.
const jobsLease = "jobs"

// leadership elects this replica for the jobs lease and runs the jobs
// while it holds it. The heartbeat loop calls step every beat: the holder
// renews, the others try to take a lease that is free or expired. A
// holder whose hold lapses (replica.fence) or whose renewal is refused
// stops its jobs at once.
type leadership struct {
	r *replica

	mu      sync.Mutex
	closed  bool // stopping: never leads again
	leading bool
	term    int64
	cancel  context.CancelFunc // ends the current term's jobs
	since   time.Time

	start chan context.Context // a term's jobs context, for run
	kick  chan struct{}        // try for the lease now (it was given up)
}

func newLeadership(r *replica) *leadership {
	l := &leadership{r: r, start: make(chan context.Context, 1), kick: make(chan struct{}, 1)}
	r.whenFenced(func() { l.lose("the replica's hold lapsed") })
	return l
}

// step renews the lease when leading, else tries to take it.
func (l *leadership) step(ctx context.Context) {
	if l.r.lapsed() {
		return
	}
	until := l.r.wall().Add(l.r.lease)
	sctx, cancel := context.WithTimeout(ctx, l.r.lease/3)
	defer cancel()
	l.mu.Lock()
	closed, leading, term := l.closed, l.leading, l.term
	l.mu.Unlock()
	if closed {
		return
	}
	if leading {
		kept, err := l.r.store.KeepLead(sctx, jobsLease, l.r.id, term, until)
		if err != nil {
			l.r.log.Warn("renewing the jobs lease failed; retrying at the next beat", "err", err)
			return
		}
		if !kept {
			l.lose("the jobs lease was taken over")
		}
		return
	}
	lease, elected, err := l.r.store.TryLead(sctx, jobsLease, l.r.id, until)
	if err != nil {
		l.r.log.Warn("trying for the jobs lease failed", "err", err)
		return
	}
	if elected {
		l.gain(lease)
	}
}

// gain starts a term: its jobs run under a context that lose cancels.
func (l *leadership) gain(lease store.LeaderLease) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.leading || l.closed {
		return
	}
	jctx, cancel := context.WithCancel(context.Background())
	l.leading, l.term, l.cancel, l.since = true, lease.Term, cancel, l.r.wall()
	select { // a term that ended before its jobs started is dropped
	case <-l.start:
	default:
	}
	l.start <- jctx
	l.r.log.Info("this replica runs the singleton jobs", "replica", l.r.id, "term", lease.Term)
}

// lose ends the current term, if any.
func (l *leadership) lose(why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.leading {
		return
	}
	l.cancel()
	l.leading = false
	l.r.log.Warn("this replica no longer runs the singleton jobs", "replica", l.r.id, "term", l.term, "reason", why)
}

// resign ends the term and gives the lease up, so another replica takes
// the jobs at once (a clean stop); this replica does not lead again.
func (l *leadership) resign(ctx context.Context) {
	l.mu.Lock()
	l.closed = true
	leading, term := l.leading, l.term
	l.mu.Unlock()
	if !leading {
		return
	}
	l.lose("stopping")
	if err := l.r.store.Resign(ctx, jobsLease, l.r.id, term); err != nil {
		l.r.log.Warn("giving up the jobs lease failed; it runs out on its own", "err", err)
	}
}

// isLeading reports whether this replica runs the jobs now.
func (l *leadership) isLeading() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leading
}

// tryNow makes the heartbeat loop try for the lease at once.
func (l *leadership) tryNow() {
	select {
	case l.kick <- struct{}{}:
	default:
	}
}

// run runs jobs for each term, one term at a time, until ctx ends; jobs
// must return once its context ends.
func (l *leadership) run(ctx context.Context, jobs func(context.Context)) {
	for {
		select {
		case <-ctx.Done():
			return
		case term := <-l.start:
			jctx, cancel := context.WithCancel(term)
			stop := context.AfterFunc(ctx, cancel) // the replica stops: so do its jobs
			jobs(jctx)
			stop()
			cancel()
		}
	}
}

// heartbeatLoop renews the replica's row every third of a lease, keeps or
// seeks the jobs lease, and ends the deploys of replicas that died, until
// ctx ends.
func (s *Server) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(s.replica.lease / 3)
	defer t.Stop()
	failing := false
	for {
		if err := s.replica.beat(ctx); err != nil {
			if !failing && ctx.Err() == nil {
				s.log.Error("replica heartbeat failed; retrying", "replica", s.replica.id, "err", err)
			}
			failing = true
		} else {
			if failing {
				s.log.Info("replica heartbeat got through again", "replica", s.replica.id)
			}
			failing = false
			s.leader.step(ctx)
			if _, err := s.interruptOrphans(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("ending the deploys of replicas that stopped", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.leader.kick:
		}
	}
}

// interruptOrphans ends interrupted, exactly once across replicas, the
// running requests whose replica stopped heartbeating, and returns how many
// this replica ended.
func (s *Server) interruptOrphans(ctx context.Context) (int, error) {
	orphans, err := s.store.OrphanedRuns(ctx)
	if err != nil || len(orphans) == 0 {
		return 0, err
	}
	byRunner := map[string][]string{}
	for _, o := range orphans {
		byRunner[o.Runner] = append(byRunner[o.Runner], o.RequestID)
	}
	total := 0
	for runner, ids := range byRunner {
		reason := "the process running the deploy stopped"
		if runner != "" {
			reason = fmt.Sprintf("replica %s running the deploy stopped (no heartbeat within %s)", runner, s.replica.lease)
		}
		n, err := s.svc.MarkInterrupted(ctx, ids, reason)
		total += n
		if n > 0 {
			s.log.Warn("requests of a replica that stopped were marked interrupted", "runner", runner, "count", n)
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
