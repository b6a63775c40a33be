package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestInboxBatcherDeduplicatesLikeEnqueue(t *testing.T) {
	storetest.Run(t, testInboxBatcherDeduplicatesLikeEnqueue)
}

func testInboxBatcherDeduplicatesLikeEnqueue(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newInboxStore(t)
	b := s.InboxBatcher()
	tests := []struct {
		name    string
		item    InboxItem
		wantDup bool
		wantErr bool
	}{
		{"first github delivery", InboxItem{Source: "github", DeliveryID: "d-1", EventType: "pull_request", Payload: []byte(`{"a":1}`)}, false, false},
		{"redelivery of the same id", InboxItem{Source: "github", DeliveryID: "d-1", EventType: "pull_request", Payload: []byte(`{"a":2}`)}, true, false},
		{"same id from slack is another delivery", InboxItem{Source: "slack", DeliveryID: "d-1", EventType: "command"}, false, false},
		{"missing delivery id", InboxItem{Source: "github", EventType: "push"}, false, true},
		{"unknown source", InboxItem{Source: "gitlab", DeliveryID: "x"}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dup, err := b.Enqueue(ctx, tt.item)
			if (err != nil) != tt.wantErr || dup != tt.wantDup {
				t.Fatalf("Enqueue = %v, %v; want dup %v, error %v", dup, err, tt.wantDup, tt.wantErr)
			}
		})
	}
	var payload string
	if err := s.DB().QueryRow(`SELECT payload FROM inbox WHERE source = 'github' AND delivery_id = 'd-1'`).Scan(&payload); err != nil || payload != `{"a":1}` {
		t.Errorf("stored payload %q, %v; want the first delivery's", payload, err)
	}
}

// TestInboxBatcherGroupsConcurrentDeliveries queues 100 deliveries (10 of
// them sent twice) behind a transaction holding their ids (uncommitted, so
// every insert of them waits for it; on SQLite it holds the write lock).
// As many callers as may commit at once (one on SQLite, inboxFlushes on
// PostgreSQL) each take a batch of themselves; the rest queue. When the
// transaction rolls back, everyone queued commits in as few transactions
// as the batch limit allows (one on SQLite), each id is new exactly once,
// and every one is stored.
func TestInboxBatcherGroupsConcurrentDeliveries(t *testing.T) {
	storetest.Run(t, testInboxBatcherGroupsConcurrentDeliveries)
}

func testInboxBatcherGroupsConcurrentDeliveries(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newInboxStore(t)
	b := s.InboxBatcher()
	flushes := inboxFlushes(s.dialect.postgres)

	const unique, resent = 90, 10
	held, release := make(chan struct{}), make(chan struct{})
	errHeld := errors.New("held transaction rolls back")
	lockDone := make(chan error, 1)
	go func() {
		lockDone <- s.WithTx(ctx, func(tx *sql.Tx) error {
			for i := range unique {
				if _, err := tx.ExecContext(ctx, `INSERT INTO inbox (source, delivery_id, event_type, payload, received_at, next_attempt_at)
					VALUES ('github', ?, 'push', ?, 0, 0)`, fmt.Sprintf("d-%d", i), []byte("held")); err != nil {
					return err
				}
			}
			close(held)
			<-release
			return errHeld
		})
	}()
	<-held

	var wg sync.WaitGroup
	dups := make([]bool, unique+resent)
	errs := make([]error, unique+resent)
	send := func(i int) {
		id := fmt.Sprintf("d-%d", i%unique)
		wg.Go(func() {
			dups[i], errs[i] = b.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: id, EventType: "push", Payload: []byte("{}")})
		})
	}
	// waitQueued waits until n calls queue behind the committing ones.
	waitQueued := func(n int) {
		deadline := time.Now().Add(time.Minute)
		for {
			b.turns.mu.Lock()
			queued, flushing := len(b.turns.pending), b.turns.running
			b.turns.mu.Unlock()
			if flushing == flushes && queued == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d deliveries queued, want %d", queued, n)
			}
			time.Sleep(time.Millisecond)
		}
	}
	for i := range unique + resent {
		send(i)
	}
	waitQueued(unique + resent - flushes) // the first took batches of one and wait
	close(release)
	wg.Wait()
	if err := <-lockDone; !errors.Is(err, errHeld) {
		t.Fatalf("held transaction: %v", err)
	}

	news := map[string]int{}
	for i := range dups {
		if errs[i] != nil {
			t.Fatalf("delivery %d: %v", i, errs[i])
		}
		if !dups[i] {
			news[fmt.Sprintf("d-%d", i%unique)]++
		}
	}
	for i := range unique {
		if id := fmt.Sprintf("d-%d", i); news[id] != 1 {
			t.Errorf("%s reported new %d times, want once", id, news[id])
		}
	}
	var rows int
	if err := s.DB().QueryRow(`SELECT count(*) FROM inbox`).Scan(&rows); err != nil || rows != unique {
		t.Errorf("inbox holds %d rows (%v), want %d", rows, err, unique)
	}
	limit := inboxBatchLimit(s.dialect.postgres)
	queued := unique + resent - flushes
	if c, want := b.Commits(), int64(flushes+(queued+limit-1)/limit); c != want {
		t.Errorf("%d transactions for %d deliveries, want %d", c, unique+resent, want)
	}
	var leftover int
	if err := s.DB().QueryRow(`SELECT count(*) FROM inbox WHERE payload = ?`, []byte("held")).Scan(&leftover); err != nil || leftover != 0 {
		t.Errorf("%d rows of the rolled back transaction (%v)", leftover, err)
	}
}

// TestInboxBatcherFailureReachesEveryCaller: when the batch cannot be
// written, each caller gets an error naming its delivery; none is told
// its delivery was stored.
func TestInboxBatcherFailureReachesEveryCaller(t *testing.T) {
	storetest.Run(t, testInboxBatcherFailureReachesEveryCaller)
}

func testInboxBatcherFailureReachesEveryCaller(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newInboxStore(t)
	b := s.InboxBatcher()
	refuse, recover := `CREATE TRIGGER refuse_inbox BEFORE INSERT ON inbox BEGIN SELECT RAISE(ABORT, 'disk says no'); END`,
		`DROP TRIGGER refuse_inbox`
	if s.Engine() == "PostgreSQL" {
		refuse, recover = `ALTER TABLE inbox ADD CONSTRAINT refuse_inbox CHECK (source = 'disk says no') NOT VALID`,
			`ALTER TABLE inbox DROP CONSTRAINT refuse_inbox`
	}
	if _, err := s.DB().Exec(refuse); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = b.Enqueue(ctx, InboxItem{Source: "slack", DeliveryID: fmt.Sprintf("s-%d", i), EventType: "command"})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			t.Errorf("delivery s-%d: no error, want one", i)
		} else if want := fmt.Sprintf("delivery s-%d", i); !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	// The batcher is usable again once the database is.
	if _, err := s.DB().Exec(recover); err != nil {
		t.Fatal(err)
	}
	if dup, err := b.Enqueue(ctx, InboxItem{Source: "slack", DeliveryID: "s-0", EventType: "command"}); err != nil || dup {
		t.Errorf("after recovery: dup %v, err %v; want a new delivery", dup, err)
	}
}

// TestInboxGroupCommitHasADeadline: a database that stops answering a
// group commit (here: another transaction holds the batch's delivery ids,
// uncommitted) fails the batch's callers once the commit's deadline
// passes, instead of holding them, and every delivery queued behind them,
// until the database answers. The senders' retries then store each
// delivery exactly once. (PostgreSQL:
// SQLite's writer waits for the store's own write lock first.)
func TestInboxGroupCommitHasADeadline(t *testing.T) {
	storetest.RunOn(t, storetest.Postgres, testInboxGroupCommitHasADeadline)
}

func testInboxGroupCommitHasADeadline(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newInboxStore(t)
	b := s.InboxBatcher()
	b.timeout = 300 * time.Millisecond
	holder, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	for i := range 3 {
		if _, err := holder.ExecContext(ctx, `INSERT INTO inbox (source, delivery_id, event_type, payload, received_at, next_attempt_at)
			VALUES ('github', ?, 'push', ?, 0, 0)`, fmt.Sprintf("d-%d", i), []byte("held")); err != nil {
			t.Fatal(err)
		}
	}
	errs := make(chan error, 3)
	for i := range 3 {
		go func() {
			_, err := b.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: fmt.Sprintf("d-%d", i), EventType: "push", Payload: []byte("{}")})
			errs <- err
		}()
	}
	for range 3 {
		select {
		case err := <-errs:
			if err == nil || !strings.Contains(err.Error(), "delivery d-") {
				t.Fatalf("enqueue behind a stuck commit: %v, want an error naming the delivery", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("enqueue still waiting 20 s after its group commit's deadline")
		}
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	b.timeout = inboxCommitTimeout // the retries must not fail on a busy machine
	// The server may still finish a statement its client gave up on (it
	// notices the cancel only between steps), so a failed batch may be
	// stored after all; the senders' retries must then be duplicates, and
	// each delivery is stored exactly once.
	for i := range 3 {
		if _, err := b.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: fmt.Sprintf("d-%d", i), EventType: "push", Payload: []byte("{}")}); err != nil {
			t.Fatalf("retry of d-%d after the database answers again: %v", i, err)
		}
	}
	var stored, distinct int
	if err := s.DB().QueryRow(`SELECT count(*), count(DISTINCT delivery_id) FROM inbox`).Scan(&stored, &distinct); err != nil || stored != 3 || distinct != 3 {
		t.Fatalf("%d deliveries stored, %d distinct (%v); want each of the 3 once", stored, distinct, err)
	}
}

// TestInboxBatchersOfReplicasDoNotDeadlock: replicas group-commit the same
// deliveries (a resend reaching another replica) in different orders at
// once; each stores every delivery exactly once and none fails with a
// deadlock (fails before this change: PostgreSQL's deadlock detector
// cancelled one of the group commits).
func TestInboxBatchersOfReplicasDoNotDeadlock(t *testing.T) {
	storetest.RunOn(t, storetest.Postgres, func(t *testing.T) {
		ctx := context.Background()
		path := storetest.Location(t)
		var batchers []*InboxBatcher
		for range 3 {
			s, err := Open(ctx, path, Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			batchers = append(batchers, s.InboxBatcher())
		}
		const n = 60
		for round := range 5 {
			ids := make([]string, n)
			for i := range ids {
				ids[i] = fmt.Sprintf("r%d-d%03d", round, i)
			}
			stored := make([]atomic.Int32, n)
			var wg sync.WaitGroup
			for r, b := range batchers {
				for k := range n {
					i := k
					if r%2 == 1 {
						i = n - 1 - k // the other replica gets them in reverse
					}
					wg.Go(func() {
						dup, err := b.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: ids[i], EventType: "push"})
						if err != nil {
							t.Errorf("replica %d, %s: %v", r, ids[i], err)
						} else if !dup {
							stored[i].Add(1)
						}
					})
				}
			}
			wg.Wait()
			for i := range stored {
				if got := stored[i].Load(); got != 1 {
					t.Fatalf("round %d: %s stored as new %d times, want once", round, ids[i], got)
				}
			}
		}
	})
}

// BenchmarkInboxBurst stores bursts of 500 concurrent deliveries of about
// 20 KB of JSON each (the size of a GitHub pull_request delivery) through
// one process's InboxBatcher, as `tollgate serve` does before it
// acknowledges them, on SQLite (synchronous=FULL) and on PostgreSQL
// (synchronous_commit=on) in turn: the storage half of the webhook intake,
// without HTTP or other processes sharing the cores. Metric: ms/burst, the
// time until every delivery of a burst is durable.
func BenchmarkInboxBurst(b *testing.B) {
	for _, e := range storetest.Engines {
		b.Run(string(e), func(b *testing.B) {
			loc := filepath.Join(b.TempDir(), "tollgate.db")
			if e == storetest.Postgres {
				loc = storetest.NewSchema(b, true)
			}
			s, err := Open(context.Background(), loc, Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			payloads := make([][]byte, 500)
			for i := range payloads {
				payloads[i] = benchDeliveryPayload(i)
			}
			batcher := s.InboxBatcher()
			ctx := context.Background()
			b.ResetTimer()
			for n := range b.N {
				var wg sync.WaitGroup
				for i, p := range payloads {
					wg.Go(func() {
						id := fmt.Sprintf("burst-%d-%d", n, i)
						if _, err := batcher.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: id, EventType: "pull_request", Payload: p}); err != nil {
							b.Error(err)
						}
					})
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/burst")
		})
	}
}

// benchDeliveryPayload is about 20 KB of webhook-like JSON, different for
// each i, compressible as real deliveries are.
func benchDeliveryPayload(i int) []byte {
	var p strings.Builder
	fmt.Fprintf(&p, `{"action":"synchronize","number":%d`, i)
	for k := 0; p.Len() < 20_000; k++ {
		fmt.Fprintf(&p, `,"field_%d":{"url":"https://api.example.invalid/repos/acme/api/pulls/%d","sha":"%040x","user":{"login":"octocat","id":%d}}`, k, i, k*i+1, k)
	}
	p.WriteString("}")
	return []byte(p.String())
}
