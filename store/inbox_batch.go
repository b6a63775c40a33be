package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// inboxCommitTimeout bounds one group commit: a database that stops
// answering (a network partition, a server stuck on its disk) fails the
// batch's callers, whose senders then retry, rather than holding every
// delivery that arrives behind it until the connection breaks. The server
// may still finish a statement its client gave up on; the deliveries are
// then stored once, and the senders' retries are duplicates.
const inboxCommitTimeout = 30 * time.Second

// inboxBatchLimit bounds how many deliveries one group commit writes, so
// one transaction stays short however many requests wait; and
// inboxFlushes is how many group commits one process runs at once.
//
// SQLite has one writer: a second commit would only wait for the first, so
// one batch takes everything queued. PostgreSQL takes concurrent inserts,
// and most of a commit's time is spent outside this process (the server
// storing and compressing the payloads, then flushing its WAL, where
// concurrent commits share one flush); so several smaller batches are in
// flight at once, each sent while the others are with the server. A burst
// of 500 deliveries of 20 KB was stored in about 30% less time than as one
// batch at a time (BENCHMARKS.md, "The storage half alone").
func inboxBatchLimit(postgres bool) int {
	if postgres {
		return 32
	}
	return 256
}

func inboxFlushes(postgres bool) int {
	if postgres {
		return 4
	}
	return 1
}

// InboxBatcher stores deliveries like Store.Enqueue, but concurrent calls
// share one transaction and so one fsync (group commit): a caller finding
// fewer than inboxFlushes commits under way commits everything queued so
// far, while later callers queue behind; when a commit ends, the first
// caller queued meanwhile commits the next batch, so a lone delivery never
// waits for company. Every caller returns only after its own delivery is
// durable. It satisfies the webhook intakes' inbox interfaces; the zero
// value is not usable, use Store.InboxBatcher.
type InboxBatcher struct {
	s       *Store
	turns   groupTurns[enqueueCall]
	commits atomic.Int64
	timeout time.Duration // inboxCommitTimeout
}

// enqueueCall is one Enqueue: its delivery, and what became of it.
type enqueueCall struct {
	it        InboxItem
	duplicate bool
	err       error
}

// InboxBatcher returns a group-committing front for Enqueue on s.
func (s *Store) InboxBatcher() *InboxBatcher {
	return &InboxBatcher{s: s, timeout: inboxCommitTimeout}
}

// Enqueue stores a delivery as pending and due now, exactly as
// Store.Enqueue does (a delivery id already stored for the source, or
// earlier in the same batch, is a duplicate and changes nothing), sharing
// the transaction with concurrent calls.
func (b *InboxBatcher) Enqueue(ctx context.Context, it InboxItem) (duplicate bool, err error) {
	if err := validInboxItem(it); err != nil {
		return false, err
	}
	if it.ReceivedAt.IsZero() {
		it.ReceivedAt = b.s.now()
	}
	if it.Payload == nil {
		it.Payload = []byte{}
	}
	// A batch this call leads is committed on behalf of everyone in it, so
	// it must not fail because this one caller went away: its cancellation
	// is dropped, and each batch has a deadline of its own instead (flush).
	ctx = context.WithoutCancel(ctx)
	pg := b.s.dialect.postgres
	res := b.turns.do(enqueueCall{it: it}, inboxFlushes(pg), inboxBatchLimit(pg),
		func(batch []*groupCall[enqueueCall]) { b.flush(ctx, batch) },
		func(batch []*groupCall[enqueueCall]) { b.wakeAfter(ctx, batch) })
	return res.duplicate, res.err
}

// flush commits batch and sets each call's result.
func (b *InboxBatcher) flush(ctx context.Context, batch []*groupCall[enqueueCall]) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	dups, err := b.commit(ctx, batch)
	b.commits.Add(1)
	for i, c := range batch {
		if err != nil {
			c.In.err = fmt.Errorf("enqueue %s delivery %s: %w", c.In.it.Source, c.In.it.DeliveryID, err)
		} else {
			c.In.duplicate = dups[i]
		}
	}
}

// wakeAfter wakes the other replicas once batch's callers are released,
// if it stored anything: their deliveries are durable, and the wake-up is
// only a hint (see wake). SQLite has no one to wake.
func (b *InboxBatcher) wakeAfter(ctx context.Context, batch []*groupCall[enqueueCall]) {
	if !b.s.dialect.postgres {
		return
	}
	for _, c := range batch {
		if c.In.err == nil && !c.In.duplicate {
			b.s.sendWakes(ctx, []string{WakeInbox})
			return
		}
	}
}

// commit inserts batch in one transaction and reports which were
// duplicates. The rows go in (source, delivery id) order: on PostgreSQL,
// group commits of several replicas holding the same deliveries (a resend
// reaching another replica) then take the unique index's locks in one
// order and wait for each other instead of deadlocking; a deadlock that
// happens regardless (the server's detector picked this transaction) is
// retried.
func (b *InboxBatcher) commit(ctx context.Context, batch []*groupCall[enqueueCall]) (dups []bool, err error) {
	order := make([]int, len(batch))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(x, y int) int {
		a, c := batch[x].In.it, batch[y].In.it
		return cmp.Or(cmp.Compare(a.Source, c.Source), cmp.Compare(a.DeliveryID, c.DeliveryID))
	})
	for attempt := 1; attempt <= 3; attempt++ {
		if dups, err = b.commitOnce(ctx, batch, order); !isDeadlock(err) {
			break
		}
	}
	return dups, err
}

// commitOnce writes the batch with one multi-row INSERT, and reports which
// calls were duplicates. RETURNING names the
// rows inserted; a delivery not among them was already stored. An id sent
// twice within the batch is inserted once, for its first caller (batch
// order), and is a duplicate for the others, as two Enqueue calls in a row
// would be.
//
// On PostgreSQL the statement runs on its own (Store.oneStatement): one
// statement is one transaction there, durable when it returns, so the
// callers wait for one round trip rather than four (BEGIN, INSERT, COMMIT,
// and the wake-up, now sent after they are released). At the start of a 550-request burst a
// batch's BEGIN and its COMMIT each took up to 100–180 ms (measured), on a
// process busy with hundreds of request handlers. On SQLite it runs in
// WithTx, which holds the write lock from the start.
func (b *InboxBatcher) commitOnce(ctx context.Context, batch []*groupCall[enqueueCall], order []int) ([]bool, error) {
	dups := make([]bool, len(batch))
	type key struct{ source, id string }
	first := make(map[key]int, len(batch)) // key → index into batch of the call that inserts it
	var stmt strings.Builder
	stmt.WriteString(`INSERT INTO inbox (source, delivery_id, event_type, payload, received_at, next_attempt_at) VALUES `)
	args := make([]any, 0, 6*len(batch))
	for _, i := range order {
		it := batch[i].In.it
		k := key{it.Source, it.DeliveryID}
		if _, seen := first[k]; seen {
			// order is stable within a key, so the first caller in
			// batch order inserts and a later one is a duplicate.
			dups[i] = true
			continue
		}
		first[k] = i
		if len(args) > 0 {
			stmt.WriteString(", ")
		}
		stmt.WriteString("(?, ?, ?, ?, ?, ?)")
		args = append(args, it.Source, it.DeliveryID, it.EventType, it.Payload, it.ReceivedAt.UnixNano(), it.ReceivedAt.UnixNano())
	}
	stmt.WriteString(` ON CONFLICT (source, delivery_id) DO NOTHING RETURNING source, delivery_id`)
	insert := func(q statements) error {
		rows, err := q.QueryContext(ctx, stmt.String(), args...)
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		inserted := make(map[key]bool, len(first))
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.source, &k.id); err != nil {
				rows.Close()
				return fmt.Errorf("read inserted deliveries: %w", err)
			}
			inserted[k] = true
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		for k, i := range first {
			dups[i] = !inserted[k]
		}
		return nil
	}
	if err := b.s.oneStatement(ctx, insert); err != nil {
		return nil, fmt.Errorf("group commit of %d deliveries: %w", len(batch), err)
	}
	return dups, nil
}

// Commits returns how many group commits (transactions) have been
// attempted, to compare with the number of deliveries stored.
func (b *InboxBatcher) Commits() int64 { return b.commits.Load() }

// validInboxItem refuses an item Enqueue could never store.
func validInboxItem(it InboxItem) error {
	if it.Source != "github" && it.Source != "slack" {
		return fmt.Errorf("enqueue delivery %q: unknown source %q", it.DeliveryID, it.Source)
	}
	if it.DeliveryID == "" {
		return fmt.Errorf("enqueue %s %s delivery: missing delivery id", it.Source, it.EventType)
	}
	return nil
}
