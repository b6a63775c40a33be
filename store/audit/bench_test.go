package audit_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// benchEvent is a realistic deploy event: the policy checks an auditor
// replays (about 450 bytes of leaf).
func benchEvent(i int) audit.Event {
	return audit.Event{
		Actor: "octocat", Action: "deployment.succeeded", Subject: fmt.Sprintf("deployment/%d", i),
		Data: map[string]any{
			"repository": "acme/api", "environment": "production", "sha": fmt.Sprintf("%040x", i), "ref": "main",
			"pull_request": i % 5000, "requested_by": "octocat", "approved_by": []string{"hubot"},
			"checks":  []map[string]string{{"name": "build", "state": "success"}, {"name": "test", "state": "success"}},
			"policy":  []map[string]any{{"check": "deployers", "team": "backend", "ok": true}, {"check": "freeze", "ok": true}},
			"servers": []string{"web-1.example.com", "web-2.example.com"}, "duration_ms": 48211,
		},
	}
}

// BenchmarkAppendDurable is one event per transaction, each committed
// durably before the next starts: the rate of audited state changes, on
// SQLite (synchronous FULL, and NORMAL for comparison) and on PostgreSQL
// (fsync and synchronous_commit on) side by side. On PostgreSQL every
// append also takes the audit sequencer's lock. Each engine's appends are
// interleaved with its floor, a one-row INSERT per transaction in the same
// database, timed apart: the disk's flush, which dominates both, varies
// from second to second on a shared machine, and x_floor (an append's time
// over the floor's) does not.
func BenchmarkAppendDurable(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("sqlite/synchronous="+sync, func(b *testing.B) {
			keys := audittest.NewKeys(b, b.TempDir(), audittest.KeyName)
			s, _ := openStore(b, keys, 100, sync)
			benchAppends(b, s)
		})
	}
	b.Run("postgres/synchronous_commit=on", func(b *testing.B) {
		keys := audittest.NewKeys(b, b.TempDir(), audittest.KeyName)
		benchAppends(b, openDurablePostgres(b, storetest.NewSchema(b, true), keys, 100))
	})
}

// benchAppends appends b.N events, one durable transaction each, and
// between them b.N one-row inserts (the floor), timing each kind apart.
func benchAppends(b *testing.B, s *store.Store) {
	ctx := context.Background()
	if _, err := s.DB().Exec(`CREATE TABLE bench_floor (n BIGINT)`); err != nil {
		b.Fatal(err)
	}
	var appends, floor time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := s.WithTx(ctx, func(tx *sql.Tx) error {
			_, err := s.Audit().Append(ctx, tx, benchEvent(i))
			return err
		}); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if _, err := s.DB().Exec(`INSERT INTO bench_floor (n) VALUES (?)`, i); err != nil {
			b.Fatal(err)
		}
		appends, floor = appends+mid.Sub(start), floor+time.Since(mid)
	}
	b.ReportMetric(float64(b.N)/appends.Seconds(), "appends/s")
	b.ReportMetric(float64(b.N)/floor.Seconds(), "floor_commits/s")
	b.ReportMetric(appends.Seconds()/floor.Seconds(), "x_floor")
}

// BenchmarkAppendDurableReplicas is the whole log's rate when three
// replicas (three stores on one PostgreSQL schema) each append one event
// per durable transaction at once: appends take turns at the sequencer,
// and a replica's known head is mostly stale, another having appended
// since (head_cache.go).
func BenchmarkAppendDurableReplicas(b *testing.B) {
	keys := audittest.NewKeys(b, b.TempDir(), audittest.KeyName)
	loc := storetest.NewSchema(b, true)
	var replicas []*store.Store
	for range 3 {
		replicas = append(replicas, openDurablePostgres(b, loc, keys, 100))
	}
	ctx := context.Background()
	b.ResetTimer()
	var wg sync.WaitGroup
	for r, s := range replicas {
		wg.Go(func() {
			for i := r; i < b.N; i += len(replicas) {
				if err := s.WithTx(ctx, func(tx *sql.Tx) error {
					_, err := s.Audit().Append(ctx, tx, benchEvent(i))
					return err
				}); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
}

// openDurablePostgres opens a store on loc, a schema of the test server
// (storetest.NewSchema with durable true), and refuses to measure unless
// the server's settings are durable: fsync and synchronous_commit on.
func openDurablePostgres(b *testing.B, loc string, keys audittest.Keys, every int) *store.Store {
	s, err := store.Open(context.Background(), loc, store.Options{Signer: keys.Signer, CheckpointEvery: every})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	for _, setting := range []string{"fsync", "synchronous_commit"} {
		var v string
		if err := s.DB().QueryRow(`SHOW ` + setting).Scan(&v); err != nil || v != "on" {
			b.Fatalf("PostgreSQL %s = %q (%v); the benchmark measures durable commits only", setting, v, err)
		}
	}
	return s
}

// BenchmarkAppendBatch100 appends 100 events per transaction.
func BenchmarkAppendBatch100(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("synchronous="+sync, func(b *testing.B) { benchmarkAppendBatch(b, sync) })
	}
}

func benchmarkAppendBatch(b *testing.B, sync string) {
	keys := audittest.NewKeys(b, b.TempDir(), audittest.KeyName)
	s, _ := openStore(b, keys, 100, sync)
	ctx := context.Background()
	evs := make([]audit.Event, 100)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range evs {
			evs[j] = benchEvent(i*100 + j)
		}
		if err := s.WithTx(ctx, func(tx *sql.Tx) error {
			_, err := s.Audit().AppendBatch(ctx, tx, evs)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "appends/s")
}

const verifyBenchSize = 1_000_000

var verifyBench struct {
	dir  string
	keys audittest.Keys
}

// TestMain removes the 1,000,000-entry log the verify benchmark kept
// between its runs.
func TestMain(m *testing.M) {
	code := storetest.Main(m) // and stop the PostgreSQL cluster the tests started
	if verifyBench.dir != "" {
		os.RemoveAll(verifyBench.dir)
	}
	os.Exit(code)
}

// buildVerifyBench writes the 1,000,000-entry log once per process.
func buildVerifyBench(b *testing.B) (string, audittest.Keys) {
	if verifyBench.dir != "" {
		return filepath.Join(verifyBench.dir, "tollgate.db"), verifyBench.keys
	}
	dir, err := os.MkdirTemp("", "tollgate-verify-bench-")
	if err != nil {
		b.Fatal(err)
	}
	keys := audittest.NewKeys(b, dir, audittest.KeyName)
	path := filepath.Join(dir, "tollgate.db")
	ctx := context.Background()
	s, err := store.Open(ctx, path, store.Options{Signer: keys.Signer, CheckpointEvery: 1000, Synchronous: "OFF"})
	if err != nil {
		b.Fatal(err)
	}
	const batch = 10_000
	evs := make([]audit.Event, batch)
	for n := 0; n < verifyBenchSize; n += batch {
		for j := range evs {
			evs[j] = benchEvent(n + j)
		}
		if err := s.WithTx(ctx, func(tx *sql.Tx) error {
			_, err := s.Audit().AppendBatch(ctx, tx, evs)
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	// Checkpoint the WAL into the main file, as a copied database would be.
	if _, err := s.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		b.Fatal(err)
	}
	s.Close()
	verifyBench.dir, verifyBench.keys = dir, keys
	return path, keys
}

// BenchmarkVerify1M verifies a 1,000,000-entry log and, in the same run,
// times sha256sum over the same leaf bytes. The figure is x_sha256sum.
// Run: go test -run '^$' -bench Verify1M -benchtime 3x ./store/audit/
func BenchmarkVerify1M(b *testing.B) {
	path, keys := buildVerifyBench(b)
	ctx := context.Background()
	s, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	leafFile, leafBytes := writeLeafFile(b, s.DB(), filepath.Join(verifyBench.dir, "leaves.bin"))
	sha := timeSHA256Sum(b, leafFile)

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r, err := audit.Verify(ctx, s.DB(), keys.Verifier)
		if err != nil || !r.OK || r.Size != verifyBenchSize {
			b.Fatalf("verify: %v ok=%v size=%d %v", err, r.OK, r.Size, r.Problem)
		}
	}
	b.StopTimer()
	perVerify := b.Elapsed() / time.Duration(b.N)
	b.ReportMetric(sha.Seconds(), "sha256sum_s")
	b.ReportMetric(perVerify.Seconds(), "verify_s")
	b.ReportMetric(perVerify.Seconds()/sha.Seconds(), "x_sha256sum")
	b.ReportMetric(float64(leafBytes)/verifyBenchSize, "leaf_bytes/entry")
}

// writeLeafFile writes every entry's canonical leaf bytes, concatenated.
func writeLeafFile(b *testing.B, db *sql.DB, path string) (string, int64) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rows, err := db.Query(`SELECT seq, at, actor, action, subject, data FROM audit_entries ORDER BY seq`)
	if err != nil {
		b.Fatal(err)
	}
	var total int64
	var buf []byte
	for rows.Next() {
		var seq int64
		var at, actor, action, subject, data string
		if err := rows.Scan(&seq, &at, &actor, &action, &subject, &data); err != nil {
			b.Fatal(err)
		}
		buf = audit.AppendLeaf(buf[:0], seq, at, actor, action, subject, []byte(data))
		total += int64(len(buf))
		w.Write(buf)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	rows.Close()
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	return path, total
}

// timeSHA256Sum runs sha256sum on the (page-cached) file three times and
// returns the fastest wall time.
func timeSHA256Sum(b *testing.B, path string) time.Duration {
	best := time.Duration(1<<63 - 1)
	for i := 0; i < 3; i++ {
		start := time.Now()
		if out, err := exec.Command("sha256sum", path).CombinedOutput(); err != nil {
			b.Fatalf("sha256sum: %v %s", err, out)
		}
		if d := time.Since(start); d < best {
			best = d
		}
	}
	return best
}
