package auditproof_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/internal/auditproof"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

// realLog writes n entries to a real audit log in a temp SQLite file,
// signs a checkpoint covering them and returns their inclusion proofs.
func realLog(t *testing.T, keys audittest.Keys, n int) []audit.InclusionProof {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "tollgate.db"), store.Options{Signer: keys.Signer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	for i := range n {
		err := s.WithTx(ctx, func(tx *sql.Tx) error {
			_, err := s.Audit().Append(ctx, tx, audit.Event{Actor: "alice", Action: "test.step",
				Subject: "request/7", Data: map[string]any{"i": i, "note": "<&> ünïcode"}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Audit().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	proofs := make([]audit.InclusionProof, n)
	for i := range proofs {
		if proofs[i], err = s.Audit().ProveInclusion(ctx, int64(i)); err != nil {
			t.Fatal(err)
		}
		e, err := s.Audit().Get(ctx, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		if got := entryOf(proofs[i]).LeafHash(); got != e.LeafHash {
			t.Fatalf("seq %d: leaf hash %s, store/audit has %s", i, got, e.LeafHash)
		}
	}
	return proofs
}

func entryOf(p audit.InclusionProof) auditproof.Entry {
	return auditproof.Entry{Seq: p.Seq, At: p.At, Actor: p.Actor, Action: p.Action, Subject: p.Subject, Data: p.Data}
}

func TestInclusionProofsOfTheRealLogVerify(t *testing.T) {
	keys := audittest.NewKeys(t, t.TempDir(), audittest.KeyName)
	for _, p := range realLog(t, keys, 7) {
		cp, err := auditproof.OpenCheckpoint(p.Checkpoint, keys.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		if cp.Size != 7 || cp.KeyName != audittest.KeyName || !strings.HasPrefix(cp.Key, audittest.KeyName+"+") {
			t.Fatalf("checkpoint %+v", cp)
		}
		if err := auditproof.CheckInclusion(entryOf(p), p.Proof, cp); err != nil {
			t.Fatalf("seq %d: %v", p.Seq, err)
		}
	}
}

func TestTamperedProofsFail(t *testing.T) {
	keys := audittest.NewKeys(t, t.TempDir(), audittest.KeyName)
	other := audittest.NewKeys(t, t.TempDir(), "other-key")
	proofs := realLog(t, keys, 5)
	p := proofs[2]
	// A checkpoint whose origin names another key than the one that signed.
	skey, vkey, err := note.GenerateKey(rand.Reader, "mallory")
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey)
	verifier, _ := note.NewVerifier(vkey)
	foreignOrigin, err := note.Sign(&note.Note{Text: fmt.Sprintf("tollgate/%s\n5\n%s\ntimestamp %s\n",
		audittest.KeyName, tlog.Hash{}, time.Now().UTC().Format(time.RFC3339Nano))}, signer)
	if err != nil {
		t.Fatal(err)
	}
	changed := entryOf(p)
	changed.Data = []byte(`{"i":3}`)
	tests := []struct {
		name     string
		note     []byte
		keys     []note.Verifier
		entry    auditproof.Entry
		proof    tlog.RecordProof
		wantOpen string
		want     string
	}{
		{name: "another key", note: p.Checkpoint, keys: []note.Verifier{other.Verifier}, entry: entryOf(p), proof: p.Proof,
			wantOpen: "not signed by key other-key+"},
		{name: "no key", note: p.Checkpoint, entry: entryOf(p), proof: p.Proof, wantOpen: auditproof.ErrNoKeys.Error()},
		{name: "origin of another key", note: foreignOrigin, keys: []note.Verifier{verifier}, entry: entryOf(p), proof: p.Proof,
			wantOpen: `checkpoint origin "tollgate/test-key", want "tollgate/mallory"`},
		{name: "proof of another entry", note: p.Checkpoint, keys: []note.Verifier{keys.Verifier}, entry: entryOf(p), proof: proofs[3].Proof,
			want: "audit entry seq 2 is not in the tree of size 5 signed by test-key+"},
		{name: "changed data", note: p.Checkpoint, keys: []note.Verifier{keys.Verifier}, entry: changed, proof: p.Proof,
			want: "audit entry seq 2 is not in the tree of size 5"},
		{name: "beyond the tree", note: p.Checkpoint, keys: []note.Verifier{keys.Verifier}, entry: auditproof.Entry{Seq: 5}, proof: p.Proof,
			want: "audit entry seq 5 is beyond the checkpoint's tree size 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cp, err := auditproof.OpenCheckpoint(tc.note, tc.keys...)
			if tc.wantOpen != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantOpen) {
					t.Fatalf("OpenCheckpoint: %v, want %q", err, tc.wantOpen)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			err = auditproof.CheckInclusion(tc.entry, tc.proof, cp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("CheckInclusion: %v, want %q", err, tc.want)
			}
		})
	}
	if !errors.Is(func() error { _, err := auditproof.OpenCheckpoint(p.Checkpoint); return err }(), auditproof.ErrNoKeys) {
		t.Fatal("no keys: want ErrNoKeys")
	}
}
