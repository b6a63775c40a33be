package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/store"
)

// A replica is this process as one of the `tollgate serve` processes
// sharing the database. It registers at start and renews its row every
// third of the lease (replicas.lease); what it holds (inbox leases, outbox
// claims, running deploys, the jobs leadership) is recorded under its id,
// and when its row expires another replica takes it over (store/replicas.go).
//
// Fencing: a replica that could not renew its row for two thirds of a
// lease stops acting on what it holds before anyone may take it over: its
// running deploys are cut short (they end interrupted) and it gives up the
// jobs. When its heartbeat gets through again it registers anew, possibly
// after others took its work, and carries on with a fresh hold.

// replicaLeaveBudget bounds the clean stop's hand-back of what it holds.
const replicaLeaveBudget = 5 * time.Second

type replica struct {
	id      string
	host    string
	version string
	lease   time.Duration
	store   *store.Store
	log     *slog.Logger
	wall    func() time.Time

	mu        sync.Mutex
	renewedAt time.Time          // when the row was last renewed (wall clock)
	hold      context.Context    // canceled when the hold lapses (fenced)
	drop      context.CancelFunc // cancels hold
	onFence   []func()           // called when the hold lapses
}

// newReplicaID returns a fresh replica id: the host and pid, for people,
// and random bytes, so a restarted process on the same host is another one.
func newReplicaID() (id, host string) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:])), host
}

func newReplica(id, host, version string, lease time.Duration, st *store.Store, log *slog.Logger) *replica {
	r := &replica{id: id, host: host, version: version, lease: lease, store: st, log: log, wall: time.Now}
	r.hold, r.drop = context.WithCancel(context.Background())
	return r
}

// register records the replica as alive; on SQLite it is refused while
// another live process serves the file (store.ErrAnotherProcess).
func (r *replica) register(ctx context.Context) error {
	now := r.wall()
	err := r.store.RegisterReplica(ctx, store.Replica{ID: r.id, Host: r.host, PID: os.Getpid(), Version: r.version,
		StartedAt: now, HeartbeatAt: now, ExpiresAt: now.Add(r.lease)})
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.renewedAt = now
	r.mu.Unlock()
	return nil
}

// beat renews the row; when the row had expired (or vanished), the hold
// is dropped and the replica registers again with a fresh one.
func (r *replica) beat(ctx context.Context) error {
	now := r.wall()
	bctx, cancel := context.WithTimeout(ctx, r.lease/3)
	defer cancel()
	renewed, err := r.store.Heartbeat(bctx, r.id, now, now.Add(r.lease))
	if err != nil {
		return err
	}
	if !renewed {
		r.fence("the replica's row had expired: other replicas may have taken over its work")
		if err := r.register(bctx); err != nil {
			return err
		}
		r.unfence()
		return nil
	}
	r.mu.Lock()
	r.renewedAt = now
	r.mu.Unlock()
	r.unfence() // the row never expired: nobody took anything over
	return nil
}

// heartbeatAge is how long ago the row was last renewed.
func (r *replica) heartbeatAge() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wall().Sub(r.renewedAt)
}

// lapsed reports whether the hold lapsed: no renewal for two thirds of a
// lease, a third before others may take over.
func (r *replica) lapsed() bool { return r.heartbeatAge() > r.lease*2/3 }

// holdContext returns a context canceled when the current hold lapses.
func (r *replica) holdContext() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.hold
}

// whenFenced registers f to be called each time the hold lapses.
func (r *replica) whenFenced(f func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onFence = append(r.onFence, f)
}

// fence drops the hold: what runs under it stops.
func (r *replica) fence(why string) {
	r.mu.Lock()
	if r.hold.Err() != nil {
		r.mu.Unlock()
		return
	}
	r.drop()
	fs := append([]func(){}, r.onFence...)
	r.mu.Unlock()
	r.log.Error("replica fenced: its hold on its work lapsed; running deploys are interrupted and the jobs given up",
		"replica", r.id, "reason", why)
	for _, f := range fs {
		f()
	}
}

// unfence starts a fresh hold after a renewal got through again.
func (r *replica) unfence() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hold.Err() == nil {
		return
	}
	r.hold, r.drop = context.WithCancel(context.Background())
	r.log.Warn("replica holds work again", "replica", r.id)
}

// watchHold fences the replica when its heartbeat has not got through for
// two thirds of a lease, whatever the heartbeat call is stuck on; it
// checks every 200 ms until ctx ends.
func (r *replica) watchHold(ctx context.Context) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if r.lapsed() {
				r.fence(fmt.Sprintf("no heartbeat got through for %s", r.heartbeatAge().Round(time.Millisecond)))
			}
		}
	}
}

// leave hands back what the replica holds and removes its row (a clean stop).
func (r *replica) leave(ctx context.Context) {
	lctx, cancel := context.WithTimeout(ctx, replicaLeaveBudget)
	defer cancel()
	if err := r.store.LeaveReplica(lctx, r.id); err != nil {
		r.log.Warn("replica leaving: what it held is taken over when its lease runs out", "replica", r.id, "err", err)
	}
}
