package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func openStore(t testing.TB, keys audittest.Keys, every int, sync string) (*store.Store, string) {
	t.Helper()
	path := storetest.Location(t)
	s, err := store.Open(context.Background(), path, store.Options{Signer: keys.Signer, CheckpointEvery: every, Synchronous: sync})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func appendBatch(t testing.TB, s *store.Store, evs ...audit.Event) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	if err := s.WithTx(context.Background(), func(tx *sql.Tx) error {
		var err error
		out, err = s.Audit().AppendBatch(context.Background(), tx, evs)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConcurrentAppendsAreGapFreeAndVerify(t *testing.T) {
	storetest.Run(t, testConcurrentAppendsAreGapFreeAndVerify)
}

func testConcurrentAppendsAreGapFreeAndVerify(t *testing.T) {
	ctx := context.Background()
	keys := audittest.NewKeys(t, t.TempDir(), audittest.KeyName)
	// NORMAL: this test is about concurrency, not fsync; the durability mode
	// does not change what a committed transaction contains.
	s, _ := openStore(t, keys, 1000, "NORMAL")
	const workers, total = 8, 10000
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < total/workers; i++ {
				err := s.WithTx(ctx, func(tx *sql.Tx) error {
					_, err := s.Audit().Append(ctx, tx, audit.Event{Actor: fmt.Sprintf("worker%d", w), Action: "test.append", Subject: fmt.Sprintf("item/%d", i), Data: map[string]int{"i": i}})
					return err
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var n, minSeq, maxSeq, distinct int64
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*), min(seq), max(seq), count(DISTINCT actor || subject) FROM audit_entries`).Scan(&n, &minSeq, &maxSeq, &distinct); err != nil {
		t.Fatal(err)
	}
	if n != total || minSeq != 0 || maxSeq != total-1 || distinct != total {
		t.Fatalf("%d entries, seq %d..%d, %d distinct events; want %d gap-free", n, minSeq, maxSeq, distinct, total)
	}
	r, err := audit.Verify(ctx, s.DB(), keys.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Size != total || r.Checkpoints != 10 || r.UnsignedTail != 0 {
		t.Fatalf("verify: ok=%v size=%d checkpoints=%d tail=%d problem=%v", r.OK, r.Size, r.Checkpoints, r.UnsignedTail, r.Problem)
	}
}

func TestCheckpointsAreWrittenInTheAppendingTransaction(t *testing.T) {
	storetest.Run(t, testCheckpointsAreWrittenInTheAppendingTransaction)
}

func testCheckpointsAreWrittenInTheAppendingTransaction(t *testing.T) {
	ctx := context.Background()
	keys := audittest.NewKeys(t, t.TempDir(), audittest.KeyName)
	s, _ := openStore(t, keys, 5, "")

	// 4 entries: no multiple of 5 crossed, no checkpoint.
	appendBatch(t, s, audittest.Event(0), audittest.Event(1), audittest.Event(2), audittest.Event(3))
	if _, ok, _ := s.Audit().LatestCheckpoint(ctx); ok {
		t.Fatal("checkpoint written before size 5")
	}
	// A batch crossing 5 and 10 ends at 12: one checkpoint of size 12.
	evs := make([]audit.Event, 8)
	for i := range evs {
		evs[i] = audittest.Event(4 + i)
	}
	entries := appendBatch(t, s, evs...)
	if entries[0].Seq != 4 || entries[7].Seq != 11 {
		t.Fatalf("batch seqs %d..%d, want 4..11", entries[0].Seq, entries[7].Seq)
	}
	latest, ok, err := s.Audit().LatestCheckpoint(ctx)
	if err != nil || !ok || latest.Size != 12 {
		t.Fatalf("latest checkpoint = %+v, %v, %v; want size 12", latest, ok, err)
	}
	cp, err := audit.OpenCheckpoint(latest.Note, keys.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	root, err := s.Audit().TreeHash(ctx, 12)
	if err != nil || cp.Root != root || cp.Origin != "tollgate/test-key" {
		t.Fatalf("checkpoint root %s origin %s, tree %s, %v", cp.Root, cp.Origin, root, err)
	}

	// A rolled-back transaction takes its entries and checkpoint with it.
	boom := errors.New("state change failed")
	err = s.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.Audit().AppendBatch(ctx, tx, []audit.Event{audittest.Event(12), audittest.Event(13), audittest.Event(14)}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	if latest, _, _ := s.Audit().LatestCheckpoint(ctx); latest.Size != 12 {
		t.Fatalf("rolled-back checkpoint survived: size %d", latest.Size)
	}
	if n, _ := s.Audit().Size(ctx); n != 12 {
		t.Fatalf("size %d after rollback, want 12", n)
	}

	// On-demand checkpoint (shutdown) covers the tail, once.
	appendBatch(t, s, audittest.Event(12))
	cp13, err := s.Audit().Checkpoint(ctx)
	if err != nil || cp13.Size != 13 {
		t.Fatalf("Checkpoint() = %+v, %v", cp13, err)
	}
	again, err := s.Audit().Checkpoint(ctx)
	if err != nil || string(again.Note) != string(cp13.Note) {
		t.Fatalf("second Checkpoint() wrote a new one: %v", err)
	}
	var rows int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM audit_checkpoints`).Scan(&rows); err != nil || rows != 2 {
		t.Fatalf("%d checkpoint rows, want 2 (%v)", rows, err)
	}

	// The size-13 tree extends the size-12 one.
	proof, err := s.Audit().ProveConsistency(ctx, 12, 13)
	if err != nil {
		t.Fatal(err)
	}
	newer, err := audit.OpenCheckpoint(cp13.Note, keys.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if err := audit.CheckConsistency(proof, cp, newer); err != nil {
		t.Fatalf("consistent checkpoints: %v", err)
	}
	forged := cp
	forged.Root[0] ^= 1
	if err := audit.CheckConsistency(proof, forged, newer); err == nil {
		t.Fatal("a different older root passed the consistency check")
	}
}

func TestCheckpointWithoutSigner(t *testing.T) { storetest.Run(t, testCheckpointWithoutSigner) }

func testCheckpointWithoutSigner(t *testing.T) {
	s, err := store.Open(context.Background(), storetest.Location(t), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Audit().Checkpoint(context.Background()); !errors.Is(err, audit.ErrNoSigner) {
		t.Fatalf("err = %v", err)
	}
	if _, err := store.Open(context.Background(), storetest.Location(t), store.Options{CheckpointEvery: 10}); err == nil {
		t.Fatal("a checkpoint interval without a signing key was accepted")
	}
}

func TestAppendedEntryMatchesStoredRow(t *testing.T) {
	storetest.Run(t, testAppendedEntryMatchesStoredRow)
}

func testAppendedEntryMatchesStoredRow(t *testing.T) {
	ctx := context.Background()
	keys := audittest.NewKeys(t, t.TempDir(), audittest.KeyName)
	clock := time.Date(2025, 3, 1, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
	s, err := store.Open(ctx, storetest.Location(t), store.Options{Signer: keys.Signer, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := appendBatch(t, s, audit.Event{Actor: "alice", Action: "request.approved", Subject: "request/1", Data: map[string]any{"b": 1, "a": "<x>"}})[0]
	stored, err := s.Audit().Get(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.At.Location() != time.UTC || !stored.At.Equal(clock) || string(stored.Data) != `{"a":"<x>","b":1}` ||
		stored.LeafHash != got.LeafHash || audit.LeafHash(stored) != got.LeafHash {
		t.Fatalf("appended %+v\nstored   %+v", got, stored)
	}
}
