package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestAppendsFromSeveralProcesses: processes sharing one database (each a
// store of its own here) append single events and batches, and sign
// checkpoints, all at once. The log stays one: seq gap-free, every stored
// tree hash extending the tree before it, every checkpoint verifying.
func TestAppendsFromSeveralProcesses(t *testing.T) {
	storetest.Run(t, testAppendsFromSeveralProcesses)
}

func testAppendsFromSeveralProcesses(t *testing.T) {
	ctx := context.Background()
	keys := audittest.NewKeys(t, t.TempDir(), audittest.KeyName)
	loc := storetest.Location(t)
	const processes, workers, rounds = 3, 3, 40
	var procs []*store.Store
	for i := 0; i < processes; i++ {
		s, err := store.Open(ctx, loc, store.Options{Signer: keys.Signer, CheckpointEvery: 50, Synchronous: "NORMAL"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		procs = append(procs, s)
	}
	var wg sync.WaitGroup
	for p, s := range procs {
		for w := 0; w < workers; w++ {
			wg.Go(func() {
				for i := 0; i < rounds; i++ {
					n := 1 + i%3 // one event, or a batch of two or three
					evs := make([]audit.Event, n)
					for j := range evs {
						evs[j] = audit.Event{Actor: fmt.Sprintf("p%d-w%d", p, w), Action: "test.append", Subject: fmt.Sprintf("item/%d/%d", i, j)}
					}
					if err := s.WithTx(ctx, func(tx *sql.Tx) error {
						_, err := s.Audit().AppendBatch(ctx, tx, evs)
						return err
					}); err != nil {
						t.Error(err)
						return
					}
					if i%10 == 9 {
						if _, err := s.Audit().Checkpoint(ctx); err != nil {
							t.Error(err)
							return
						}
					}
				}
			})
		}
	}
	wg.Wait()
	var want int64
	for i := 0; i < rounds; i++ {
		want += int64(processes * workers * (1 + i%3))
	}
	var n, minSeq, maxSeq, distinct int64
	if err := procs[0].DB().QueryRowContext(ctx, `SELECT count(*), min(seq), max(seq), count(DISTINCT actor || subject) FROM audit_entries`).
		Scan(&n, &minSeq, &maxSeq, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != want || minSeq != 0 || maxSeq != want-1 || distinct != want {
		t.Fatalf("%d entries, seq %d..%d, %d distinct; want %d gap-free", n, minSeq, maxSeq, distinct, want)
	}
	if _, err := procs[1].Audit().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := audit.Verify(ctx, procs[2].DB(), keys.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Size != want || r.UnsignedTail != 0 || r.Checkpoints < int(want/50) {
		t.Fatalf("verify: ok=%v size=%d checkpoints=%d tail=%d problem=%v", r.OK, r.Size, r.Checkpoints, r.UnsignedTail, r.Problem)
	}
}

// TestAppendAfterTheLogMovedOn: a process that appended knows the log's
// head and builds its next entry on it without asking (head_cache.go). When
// the log has moved on under it, that guess must be refused and the entry
// built on the real head: after another process's append, and after a
// restore from a backup that another process then grew back to the same
// size with a different last entry.
func TestAppendAfterTheLogMovedOn(t *testing.T) {
	storetest.RunOn(t, storetest.Postgres, testAppendAfterTheLogMovedOn)
}

func testAppendAfterTheLogMovedOn(t *testing.T) {
	ctx := context.Background()
	keys := audittest.NewKeys(t, t.TempDir(), audittest.KeyName)
	loc := storetest.Location(t)
	open := func() *store.Store {
		s, err := store.Open(ctx, loc, store.Options{Signer: keys.Signer, CheckpointEvery: 1000})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	appendOne := func(s *store.Store, subject string) {
		t.Helper()
		if err := s.WithTx(ctx, func(tx *sql.Tx) error {
			_, err := s.Audit().Append(ctx, tx, audit.Event{Actor: "test", Action: "test.append", Subject: subject})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	verify := func(want int64) {
		t.Helper()
		r, err := audit.Verify(ctx, a.DB(), keys.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK || r.Size != want {
			t.Fatalf("verify: ok=%v size=%d (want %d) problem=%v", r.OK, r.Size, want, r.Problem)
		}
	}
	for i := 0; i < 3; i++ {
		appendOne(a, fmt.Sprintf("a/%d", i))
	}
	appendOne(b, "b/0") // a's known head is now one short
	appendOne(a, "a/3")
	verify(5)
	// After that miss a asks the sequencer for a few appends, then knows
	// the head again and guesses: ten appends alone are more than enough.
	for i := 4; i < 14; i++ {
		appendOne(a, fmt.Sprintf("a/%d", i))
	}

	// The restore: a superuser puts the log back to 14 entries, and b
	// appends a different 15th. a still knows a head of 15 entries.
	superuser, err := a.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`SET session_replication_role = replica`, `DELETE FROM audit_entries WHERE seq = 14`, `SET session_replication_role = origin`} {
		if _, err := superuser.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	superuser.Close()
	appendOne(b, "b/1")
	appendOne(a, "a/14")
	verify(16)
}
