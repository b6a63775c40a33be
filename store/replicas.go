package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// Replicas: every `tollgate serve` sharing the database registers a row
// and renews it with a heartbeat (server/replica.go). What a replica holds
// is recorded under its id: inbox leases (inbox.lease_owner), outbox claims
// (outbox_claims.owner), running deploys (requests.runner), the jobs lease
// (leader_leases.holder). Once its row expires, another replica takes those
// over. Liveness is judged on the wall clock (Store.wall), never on the
// domain clock a test may move: the replicas' clocks must agree to well
// under a lease (NTP), as in every lease-based system.

// Replica is one serving process registered in the database.
type Replica struct {
	ID          string
	Host        string
	PID         int
	Version     string
	StartedAt   time.Time
	HeartbeatAt time.Time
	ExpiresAt   time.Time
}

// ErrAnotherProcess is returned by RegisterReplica on SQLite when another
// live process serves the same file: SQLite serves one process; several
// replicas need PostgreSQL.
var ErrAnotherProcess = errors.New("another tollgate serve uses this SQLite database (SQLite serves one process; run several replicas on PostgreSQL)")

// liveReplica is an SQL condition true when the replica named by the
// expression col is alive at the wall-clock time given as the next `?`.
func liveReplica(col string) string {
	return `EXISTS (SELECT 1 FROM replicas rl WHERE rl.id = ` + col + ` AND rl.expires_at > ?)`
}

// Replica returns the id claims are recorded under ("" for a store that
// serves no replica: tools, tests).
func (s *Store) Replica() string { return s.replica }

// RegisterReplica records r as alive until r.ExpiresAt. On SQLite, which
// one process serves, a live row of another process is refused with
// ErrAnotherProcess, unless it belongs to a process on this host that no
// longer exists (it was killed): that row is removed, so what it held is
// taken over at once rather than when it expires.
func (s *Store) RegisterReplica(ctx context.Context, r Replica) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		if !s.dialect.postgres {
			if err := s.clearDeadLocal(ctx, tx, r); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, upsert("replicas", "id, host, pid, version, started_at, heartbeat_at, expires_at", "id"),
			r.ID, r.Host, r.PID, r.Version, nanos(r.StartedAt), nanos(r.HeartbeatAt), nanos(r.ExpiresAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("register replica %s: %w", r.ID, err)
	}
	return nil
}

// clearDeadLocal removes the rows of processes on this host that are gone
// and refuses a live one of another process.
func (s *Store) clearDeadLocal(ctx context.Context, tx *sql.Tx, self Replica) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, host, pid FROM replicas WHERE id <> ? AND expires_at > ?`, self.ID, s.wall().UnixNano())
	if err != nil {
		return err
	}
	var dead []string
	var live []string
	for rows.Next() {
		var id, host string
		var pid int
		if err := rows.Scan(&id, &host, &pid); err != nil {
			rows.Close()
			return err
		}
		if host == self.Host && pid != os.Getpid() && processGone(pid) {
			dead = append(dead, id)
		} else {
			live = append(live, fmt.Sprintf("%s (host %s, pid %d)", id, host, pid))
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return err
	}
	if len(live) > 0 {
		return fmt.Errorf("%w: %s", ErrAnotherProcess, strings.Join(live, ", "))
	}
	for _, id := range dead {
		if _, err := tx.ExecContext(ctx, `DELETE FROM replicas WHERE id = ?`, id); err != nil {
			return err
		}
	}
	return nil
}

// processGone reports whether no process with pid exists on this host.
func processGone(pid int) bool {
	return pid > 0 && errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

// Heartbeat renews replica id until until. renewed is false when its row
// is gone or had expired (other replicas may have taken over what it
// held): the caller registers again and treats its claims as lost.
func (s *Store) Heartbeat(ctx context.Context, id string, at, until time.Time) (renewed bool, err error) {
	err = s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE replicas SET heartbeat_at = ?, expires_at = ? WHERE id = ? AND expires_at > ?`,
			nanos(at), nanos(until), id, s.wall().UnixNano())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		renewed = n == 1
		return err
	})
	if err != nil {
		return false, fmt.Errorf("heartbeat of replica %s: %w", id, err)
	}
	return renewed, nil
}

// LeaveReplica removes replica id at a clean stop and hands back what it
// still holds (inbox leases, outbox claims, leader leases), so the others
// take it over at once.
func (s *Store) LeaveReplica(ctx context.Context, id string) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{
			`UPDATE inbox SET lease_until = 0, lease_owner = '' WHERE lease_owner = ? AND state = 'pending'`,
			`DELETE FROM outbox_claims WHERE owner = ?`,
			`DELETE FROM leader_leases WHERE holder = ?`,
			`DELETE FROM replicas WHERE id = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replica %s leaving: %w", id, err)
	}
	return nil
}

// Replicas lists the replicas alive now (wall clock), oldest first.
func (s *Store) Replicas(ctx context.Context) ([]Replica, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, host, pid, version, started_at, heartbeat_at, expires_at
		FROM replicas WHERE expires_at > ? ORDER BY started_at, id`, s.wall().UnixNano())
	if err != nil {
		return nil, fmt.Errorf("list replicas: %w", err)
	}
	defer rows.Close()
	var out []Replica
	for rows.Next() {
		var r Replica
		var started, beat, expires int64
		if err := rows.Scan(&r.ID, &r.Host, &r.PID, &r.Version, &started, &beat, &expires); err != nil {
			return nil, fmt.Errorf("list replicas: %w", err)
		}
		r.StartedAt, r.HeartbeatAt, r.ExpiresAt = fromNanos(started), fromNanos(beat), fromNanos(expires)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list replicas: %w", err)
	}
	return out, nil
}

// PruneReplicas deletes the rows of replicas expired for longer than
// keep: their claims were taken over long since, and the table stays small.
func (s *Store) PruneReplicas(ctx context.Context, keep time.Duration) (int, error) {
	var n int64
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM replicas WHERE expires_at < ?`, s.wall().Add(-keep).UnixNano())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("prune replicas: %w", err)
	}
	return int(n), nil
}

// Held counts what replica holds now: inbox leases, outbox claims and
// running deploys.
type Held struct {
	InboxLeases  int
	OutboxClaims int
	Deploys      int
}

// HeldBy counts what replica holds now (wall clock).
func (s *Store) HeldBy(ctx context.Context, replica string) (Held, error) {
	var h Held
	now := s.wall().UnixNano()
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM inbox WHERE lease_owner = ? AND state = 'pending' AND lease_until > ?),
		(SELECT count(*) FROM outbox_claims WHERE owner = ? AND until > ?),
		(SELECT count(*) FROM requests WHERE runner = ? AND state = 'running')`,
		replica, now, replica, now, replica).Scan(&h.InboxLeases, &h.OutboxClaims, &h.Deploys)
	if err != nil {
		return Held{}, fmt.Errorf("what replica %s holds: %w", replica, err)
	}
	return h, nil
}

// InboxLag returns how long the oldest delivery due at now has waited to
// be processed (0 when none is due): how far the replicas are behind.
func (s *Store) InboxLag(ctx context.Context, now time.Time) (time.Duration, error) {
	var oldest sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT min(next_attempt_at) FROM inbox WHERE state = 'pending' AND next_attempt_at <= ?`,
		now.UnixNano()).Scan(&oldest)
	if err != nil {
		return 0, fmt.Errorf("inbox lag: %w", err)
	}
	if !oldest.Valid {
		return 0, nil
	}
	return max(0, now.Sub(time.Unix(0, oldest.Int64))), nil
}
