package evidence_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/evidence"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestPacksAcrossAnAuditKeyRotation(t *testing.T) {
	storetest.Run(t, testPacksAcrossAnAuditKeyRotation)
}

func testPacksAcrossAnAuditKeyRotation(t *testing.T) {
	ctx := context.Background()
	h := evidencetest.Build(t, 40, 5)
	oldKey := h.Keys
	before := filepath.Join(t.TempDir(), "before")
	buildPack(t, h, before, 2, 1)

	// Rotate: the old key's final checkpoint, the handover, then a new key signs on.
	newKey := audittest.NewKeys(t, t.TempDir(), "new-key")
	if _, err := h.Store.Audit().Rotate(ctx, newKey.Signer); err != nil {
		t.Fatal(err)
	}
	rotated, err := store.Open(ctx, h.DBPath, store.Options{Signer: newKey.Signer})
	if err != nil {
		t.Fatal(err)
	}
	if err := rotated.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := rotated.Audit().Append(ctx, tx, audit.Event{Actor: "tollgate", Action: "config.loaded", Subject: "tollgate.yml", Data: map[string]any{}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.Audit().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := evidence.Build(ctx, h.Store, evidence.Options{Range: evidence.Range{From: h.From, To: h.To}, Out: filepath.Join(t.TempDir(), "stale"),
		Signer: oldKey.Signer, Verifier: oldKey.Verifier, PreviousKeys: []note.Verifier{newKey.Verifier}, Now: h.Clock.Now, Source: "tollgate.db",
	}); err == nil || !strings.Contains(err.Error(), "is not the audit log's active key new-key+") {
		t.Fatalf("a pack signed by the retired key: err = %v, want refused", err)
	}
	after := filepath.Join(t.TempDir(), "after")
	sum, err := evidence.Build(ctx, rotated, evidence.Options{
		Range: evidence.Range{From: h.From, To: h.To}, SampleSize: 2, Seed: 1, Out: after,
		Signer: newKey.Signer, Verifier: newKey.Verifier, PreviousKeys: []note.Verifier{oldKey.Verifier}, Now: h.Clock.Now, Source: "tollgate.db",
	})
	rotated.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !sum.Verify.OK || len(sum.Verify.Signers) != 2 {
		t.Fatalf("the log across the rotation: ok=%v signers %+v problem %v", sum.Verify.OK, sum.Verify.Signers, sum.Verify.Problem)
	}
	verifyTxt, _ := os.ReadFile(filepath.Join(after, "verify.txt"))
	oldID, newID := audit.Keyring{oldKey.Verifier}.String(), audit.Keyring{newKey.Verifier}.String()
	if !strings.Contains(string(verifyTxt), "every signature valid for keys "+oldID) || !strings.Contains(string(verifyTxt), "then "+newID) {
		t.Fatalf("verify.txt:\n%s\nwant both keys, old then new", verifyTxt)
	}

	both := []note.Verifier{oldKey.Verifier, newKey.Verifier}
	tests := []struct {
		name    string
		pack    string
		keys    []note.Verifier
		signer  string // "" when the pack must fail
		problem string
	}{
		{name: "a pack from before the rotation, with both keys", pack: before, keys: both, signer: audittest.KeyName},
		{name: "a pack from after the rotation, with both keys", pack: after, keys: both, signer: "new-key"},
		{name: "a pack from before the rotation, with the new key only", pack: before, keys: both[1:],
			problem: "MANIFEST: signature does not verify with key " + newID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := evidence.VerifyPack(tt.pack, tt.keys...)
			if err != nil {
				t.Fatal(err)
			}
			if tt.signer == "" {
				if res.OK() || !strings.HasPrefix(res.Problems[0].String(), tt.problem) {
					t.Fatalf("problems %v, want %s", res.Problems, tt.problem)
				}
				return
			}
			if !res.OK() || res.KeyName != tt.signer {
				t.Fatalf("problems %v, signed by %q; want OK by %s", res.Problems, res.KeyName, tt.signer)
			}
			seg, err := evidence.CheckSegmentFiles(filepath.Join(tt.pack, "audit.jsonl"), filepath.Join(tt.pack, "audit.proof"), tt.keys...)
			if err != nil || seg.Covered == 0 || seg.Checkpoint.KeyName != tt.signer {
				t.Fatalf("audit.jsonl: %d proven against a checkpoint by %q: %v", seg.Covered, seg.Checkpoint.KeyName, err)
			}
		})
	}
}

// A leaked retired key signs a checkpoint over entries appended after its
// rotation; a segment holding the rotation is refused offline.
func TestASegmentProvenByARetiredKeyFails(t *testing.T) {
	ctx := context.Background()
	h := evidencetest.Build(t, 40, 5)
	oldKey, newKey := h.Keys, audittest.NewKeys(t, t.TempDir(), "new-key")
	if _, err := h.Store.Audit().Rotate(ctx, newKey.Signer); err != nil {
		t.Fatal(err)
	}
	audittest.Forge(t, h.DBPath, oldKey.Signer, 2)

	out := filepath.Join(t.TempDir(), "export")
	res, err := evidence.Export(ctx, h.Store, evidence.ExportOptions{
		Range: evidence.Range{From: h.From, To: time.Now().AddDate(1, 0, 0)}, Out: out, SegmentEntries: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if res.Checkpoint.KeyName != "" && res.Checkpoint.KeyName != oldKey.Signer.Name() || len(res.Segments) != 1 {
		t.Fatalf("export against %+v in %d segments; want the forged checkpoint, one segment", res.Checkpoint, len(res.Segments))
	}
	seg := filepath.Join(out, res.Segments[0])
	_, err = evidence.CheckSegmentFiles(seg, strings.TrimSuffix(seg, ".jsonl")+".proof", oldKey.Verifier, newKey.Verifier)
	want := "segment checkpoint: checkpoint of tree size " + fmt.Sprint(res.End) + " is signed by key " + audit.Keyring{oldKey.Verifier}.String() + ", retired at tree size "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("CheckSegmentFiles = %v\nwant %s", err, want)
	}
}
