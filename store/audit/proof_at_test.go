package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

// TestProveInclusionAtAnOlderCheckpoint: entries proven against one
// checkpoint stay proven against it while newer checkpoints are signed
// (an attestation proves all of a deploy's entries against one).
func TestProveInclusionAtAnOlderCheckpoint(t *testing.T) {
	ctx := context.Background()
	keys := audittest.NewKeys(t, t.TempDir(), audittest.KeyName)
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "tollgate.db"), store.Options{Signer: keys.Signer, CheckpointEvery: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendN := func(n int) {
		for i := range n {
			if err := s.WithTx(ctx, func(tx *sql.Tx) error {
				_, err := s.Audit().Append(ctx, tx, audittest.Event(i))
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(3)
	cp, err := s.Audit().Checkpoint(ctx)
	if err != nil || cp.Size != 3 {
		t.Fatalf("checkpoint %+v, %v", cp, err)
	}
	appendN(6) // newer checkpoints every 2 entries
	if latest, _, _ := s.Audit().LatestCheckpoint(ctx); latest.Size == cp.Size {
		t.Fatal("no newer checkpoint was signed")
	}
	for seq := range int64(3) {
		p, err := s.Audit().ProveInclusionAt(ctx, seq, cp)
		if err != nil || string(p.Checkpoint) != string(cp.Note) {
			t.Fatalf("seq %d: %v, or proven against another checkpoint", seq, err)
		}
		if _, err := audit.CheckInclusionProof(p, keys.Verifier); err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
	}
	if _, err := s.Audit().ProveInclusionAt(ctx, 3, cp); !errors.Is(err, audit.ErrNotCovered) {
		t.Fatalf("an entry after the checkpoint: %v", err)
	}
}
