package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tollgate-dev/tollgate/internal/backoff"
)

// Wake-ups between replicas. A transaction that makes work for others
// (a request queued, a deploy finished, a delivery stored) is followed,
// once committed, by a PostgreSQL NOTIFY on wakeChannel: the other
// replicas' idle workers start at once instead of at their next poll.
// The NOTIFY is sent after the commit rather than in the transaction: a
// transaction that notifies holds a lock of the whole database from its
// commit until its WAL is flushed, so every notifying commit of every
// replica would wait for the one before it (measured: group commits of a
// burst of deliveries stretched from a few to 50–130 ms each). A wake-up
// lost to a crash between the two is covered by the workers' polling, as
// when the LISTEN connection drops. SQLite has no other process to wake;
// its workers are kicked in-process.
const wakeChannel = "tollgate_wake"

// Wake topics: what kind of work a notification announces.
const (
	WakeDeploy = "deploy" // a request was queued, or a deploy finished
	WakeInbox  = "inbox"  // deliveries were stored
	WakeLeader = "leader" // the jobs lease was given up
)

// wake announces topic to the other replicas once tx (a WithTx
// transaction) has committed; nothing is sent if it rolls back.
func (s *Store) wake(ctx context.Context, tx *sql.Tx, topic string) error {
	if !s.dialect.postgres {
		return nil
	}
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	if s.pendingWakes == nil {
		s.pendingWakes = map[*sql.Tx][]string{}
	}
	if !slices.Contains(s.pendingWakes[tx], topic) {
		s.pendingWakes[tx] = append(s.pendingWakes[tx], topic)
	}
	return nil
}

// takeWakes removes and returns the wake-ups tx asked for.
func (s *Store) takeWakes(tx *sql.Tx) []string {
	s.wakeMu.Lock()
	defer s.wakeMu.Unlock()
	topics := s.pendingWakes[tx]
	delete(s.pendingWakes, tx)
	return topics
}

// sendWakes notifies the other replicas of topics, after the transaction
// that made the work committed. It is best effort: the work is stored and
// the caller's operation succeeded, and a wake-up that does not arrive is
// covered by the workers' polling, so a failure here is not the caller's.
func (s *Store) sendWakes(ctx context.Context, topics []string) {
	if len(topics) == 0 {
		return
	}
	calls := make([]string, len(topics))
	args := make([]any, len(topics))
	for i, topic := range topics {
		calls[i] = `pg_notify('` + wakeChannel + `', current_schema() || ' ' || ?)`
		args[i] = topic
	}
	// Not the caller's cancellation (the commit it follows is done), but
	// not longer than a wake-up is worth either.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = s.db.ExecContext(ctx, `SELECT `+strings.Join(calls, ", "), args...)
}

// Listen calls fn with the topic of every wake-up another transaction sent
// (on PostgreSQL), until ctx ends; fn runs on Listen's goroutine and must
// not block. A lost connection is reported to onErr (when not nil) and
// reopened with backoff, and fn("") then says that wake-ups may have been
// missed; the workers' polling covers the gap. On SQLite it returns at
// once: one process serves it and wakes its own workers.
func (s *Store) Listen(ctx context.Context, fn func(topic string), onErr func(error)) {
	if !s.dialect.postgres {
		return
	}
	wait := backoff.Exponential(100*time.Millisecond, 5*time.Second)
	for attempt := 1; ctx.Err() == nil; attempt++ {
		listening, err := s.listenOnce(ctx, fn)
		if listening {
			attempt = 1
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil && onErr != nil {
			onErr(err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait(attempt)):
		}
		fn("")
	}
}

// listenOnce holds one LISTEN connection until it fails or ctx ends;
// listening says whether it got as far as listening.
func (s *Store) listenOnce(ctx context.Context, fn func(topic string)) (listening bool, err error) {
	cfg, err := pgx.ParseConfig(s.location)
	if err != nil {
		return false, fmt.Errorf("listen: %s is not a valid PostgreSQL URL", Describe(s.location))
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "tollgate"
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	cancel()
	if err != nil {
		return false, fmt.Errorf("listen: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var schema string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	if _, err := conn.Exec(ctx, `LISTEN `+wakeChannel); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			if errors.Is(err, context.Canceled) || ctx.Err() != nil {
				return true, nil
			}
			return true, fmt.Errorf("listen: %w", err)
		}
		if topic, ok := strings.CutPrefix(n.Payload, schema+" "); ok {
			fn(topic)
		}
	}
}
