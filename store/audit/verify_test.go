package audit_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func verifyFile(t *testing.T, f audittest.Fixture) audit.Report {
	t.Helper()
	s, err := store.OpenReadOnly(context.Background(), f.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := audit.Verify(context.Background(), s.DB(), f.Keys.Verifier)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return r
}

func TestVerifyUntouchedLog(t *testing.T) { storetest.Run(t, testVerifyUntouchedLog) }

func testVerifyUntouchedLog(t *testing.T) {
	f := audittest.Build(t, audittest.TamperSize, audittest.TamperEvery)
	r := verifyFile(t, f)
	if !r.OK || r.Problem != nil {
		t.Fatalf("untouched log failed: %v", r.Problem)
	}
	if r.Size != 251 || r.Checkpoints != 2 || !r.HasCheckpoint || r.LastCheckpoint.Size != 200 || r.UnsignedTail != 51 {
		t.Fatalf("report = size %d, %d checkpoints, last %d, tail %d; want 251, 2, 200, 51",
			r.Size, r.Checkpoints, r.LastCheckpoint.Size, r.UnsignedTail)
	}
	// The streamed root equals tlog's tree hash over the stored hashes.
	s, err := store.OpenReadOnly(context.Background(), f.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want, err := s.Audit().TreeHash(context.Background(), 251)
	if err != nil {
		t.Fatal(err)
	}
	if r.Root != want {
		t.Fatalf("root %s, tlog.TreeHash %s", r.Root, want)
	}
}

func TestVerifyEmptyLog(t *testing.T) { storetest.Run(t, testVerifyEmptyLog) }

func testVerifyEmptyLog(t *testing.T) {
	f := audittest.Build(t, 0, 10)
	r := verifyFile(t, f)
	if !r.OK || r.Size != 0 || r.HasCheckpoint || r.UnsignedTail != 0 {
		t.Fatalf("empty log: %+v", r)
	}
}

func TestVerifyDetectsTampering(t *testing.T) { storetest.Run(t, testVerifyDetectsTampering) }

func testVerifyDetectsTampering(t *testing.T) {
	for _, tc := range audittest.Tampers() {
		t.Run(tc.Name, func(t *testing.T) {
			f := audittest.Build(t, audittest.TamperSize, audittest.TamperEvery)
			tc.Apply(t, audittest.OpenRaw(t, f.Path))
			r := verifyFile(t, f)
			if r.OK || r.Problem == nil {
				t.Fatalf("tampering not detected: %+v", r)
			}
			if got := r.Problem.String(); !strings.Contains(got, tc.Want) {
				t.Fatalf("problem %q\nwant it to contain %q", got, tc.Want)
			}
		})
	}
}

// An attacker who appends entries with correct hashes after the last
// checkpoint is not caught locally; Verify must say those entries are unsigned.
func TestVerifyReportsForgedTailAsUnsigned(t *testing.T) {
	storetest.Run(t, testVerifyReportsForgedTailAsUnsigned)
}

func testVerifyReportsForgedTailAsUnsigned(t *testing.T) {
	f := audittest.Build(t, audittest.TamperSize, audittest.TamperEvery)
	db := audittest.OpenRaw(t, f.Path)
	audittest.Exec(t, db, `INSERT INTO audit_entries VALUES (251, '2025-03-01T10:00:00Z', 'mallory', 'request.approved', 'request/251', '{}', ?, ?)`, []byte{}, []byte{})
	audittest.DropTriggers(t, db)
	audittest.Rehash(t, db)
	r := verifyFile(t, f)
	if !r.OK || r.Size != 252 || r.UnsignedTail != 52 || r.LastCheckpoint.Size != 200 {
		t.Fatalf("report %+v; want OK with 52 unsigned entries after checkpoint size 200", r)
	}
}

func TestVerifyRecomputesTheSameHashesAsAppend(t *testing.T) {
	storetest.Run(t, testVerifyRecomputesTheSameHashesAsAppend)
}

func testVerifyRecomputesTheSameHashesAsAppend(t *testing.T) {
	// Append's stored hashes (through tlog.StoredHashesForRecordHash) and an
	// independent recomputation from the rows agree for every tree shape up to 70.
	f := audittest.Build(t, 70, 0)
	db := audittest.OpenRaw(t, f.Path)
	all := audittest.Rehashed(t, db)
	rows, err := db.Query(`SELECT seq, leaf_hash, tree_hashes FROM audit_entries ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var stored []tlog.Hash
	for rows.Next() {
		var seq int64
		var leaf, tree []byte
		if err := rows.Scan(&seq, &leaf, &tree); err != nil {
			t.Fatal(err)
		}
		for b := append(leaf, tree...); len(b) > 0; b = b[32:] {
			stored = append(stored, tlog.Hash(b[:32]))
		}
	}
	if len(stored) != len(all) {
		t.Fatalf("%d stored hashes, %d recomputed", len(stored), len(all))
	}
	for i := range all {
		if stored[i] != all[i] {
			t.Fatalf("stored hash %d differs", i)
		}
	}
}

func TestVerifyEachHandsOverEveryRowAfterAProblemToo(t *testing.T) {
	f := audittest.Build(t, 40, 10)
	db := audittest.OpenRaw(t, f.Path)
	audittest.DropTriggers(t, db)
	audittest.Exec(t, db, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = 12`)
	var seqs []int64
	var actor12 string
	r, err := audit.VerifyEach(context.Background(), db, func(row audit.Row) error {
		seqs = append(seqs, row.Seq)
		if row.Seq == 12 {
			actor12 = string(row.Actor)
		}
		return nil
	}, f.Keys.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK || r.Problem == nil || r.Problem.Seq != 12 || r.Size != 12 {
		t.Fatalf("report: ok=%v size=%d problem=%v; want the problem at seq 12", r.OK, r.Size, r.Problem)
	}
	if len(seqs) != 40 || seqs[39] != 39 || actor12 != "mallory" {
		t.Fatalf("visited %d rows (last %v), seq 12 by %q; want all 40 as stored", len(seqs), seqs[len(seqs)-1:], actor12)
	}
	stop := errors.New("enough")
	if _, err := audit.VerifyEach(context.Background(), db, func(audit.Row) error { return stop }, f.Keys.Verifier); !errors.Is(err, stop) {
		t.Fatalf("visit's error: %v, want %v", err, stop)
	}
}
