package anchor_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/anchor"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestAnchorsAcrossAKeyRotation(t *testing.T) { storetest.Run(t, testAnchorsAcrossAKeyRotation) }

func testAnchorsAcrossAKeyRotation(t *testing.T) {
	ctx := context.Background()
	// GitHub was down from the start: nothing, not even the old key's
	// shutdown checkpoint, was anchored before the rotation.
	rot := audittest.BuildRotated(t, 25, 20, 10)
	s, err := store.Open(ctx, rot.Path, store.Options{Signer: rot.New.Signer})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pub := &repoPublisher{files: map[string][][]byte{}}

	if n, err := anchor.New(s, pub, rot.New.Verifier, nil).PublishPending(ctx); err == nil || n != 0 ||
		!strings.Contains(err.Error(), "audit key rotation at seq 25: handover note is not signed by the retiring key old-key+") {
		t.Fatalf("publish with the new key only = %d, %v; want refused at the rotation it cannot check", n, err)
	}
	n, err := anchor.New(s, pub, rot.New.Verifier, nil).TrustPrevious(rot.Old.Verifier).PublishPending(ctx)
	if err != nil || n != 7 {
		t.Fatalf("publish trusting the old key = %d, %v; want all 7 checkpoints", n, err)
	}

	tests := []struct {
		name    string
		keys    audit.Keyring
		ok      bool
		checked int
		largest int64
		problem string
	}{
		{name: "old and new keys", keys: audit.Keyring{rot.Old.Verifier, rot.New.Verifier}, ok: true, checked: 7, largest: 46},
		{name: "the new key alone", keys: audit.Keyring{rot.New.Verifier},
			problem: "checkpoint 1 (tree size 10): not signed by key new-key+"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := anchor.Check(ctx, s.DB(), tt.keys, pub.anchored())
			if err != nil {
				t.Fatal(err)
			}
			if r.OK != tt.ok || r.Checked != tt.checked || r.Largest != tt.largest {
				t.Fatalf("report ok=%v checked=%d largest=%d local=%v anchored=%v", r.OK, r.Checked, r.Largest, r.Local.Problem, r.Problem)
			}
			if tt.problem != "" && (r.Local.Problem == nil || !strings.HasPrefix(r.Local.Problem.String(), tt.problem)) {
				t.Fatalf("local problem %v, want %s", r.Local.Problem, tt.problem)
			}
		})
	}
}

func TestARetiredKeysCheckpointIsNeverAnchored(t *testing.T) {
	ctx := context.Background()
	rot := audittest.BuildRotated(t, 25, 20, 10)
	keys := audit.Keyring{rot.Old.Verifier, rot.New.Verifier}
	// Whoever holds the leaked old key and the file appends and signs.
	audittest.Forge(t, rot.Path, rot.Old.Signer, 2)
	s, err := store.Open(ctx, rot.Path, store.Options{Signer: rot.New.Signer})
	if err != nil {
		t.Fatal(err)
	}
	pub := &repoPublisher{files: map[string][][]byte{}}
	n, err := anchor.New(s, pub, rot.New.Verifier, nil).TrustPrevious(rot.Old.Verifier).PublishPending(ctx)
	want := "checkpoint to anchor does not verify: checkpoint of tree size 48 is signed by key " + keys[:1].String() + ", retired at tree size 25"
	if err == nil || n != 0 || !strings.Contains(err.Error(), want) {
		t.Fatalf("publish = %d, %v\nwant refused: %s", n, err, want)
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A retired key's checkpoint over the untouched log, published
	// elsewhere: the anchor check names the key.
	clean := audittest.BuildRotated(t, 25, 20, 10)
	cs, err := store.OpenReadOnly(ctx, clean.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	root, err := cs.Audit().TreeHash(ctx, 46)
	if err != nil {
		t.Fatal(err)
	}
	forged, err := note.Sign(&note.Note{Text: audit.FormatCheckpointText(audit.Origin("old-key"), 46, root, time.Now())}, clean.Old.Signer)
	if err != nil {
		t.Fatal(err)
	}
	r, err := anchor.Check(ctx, cs.DB(), audit.Keyring{clean.New.Verifier, clean.Old.Verifier}, []anchor.Anchored{{Path: "checkpoints/x.txt", Note: forged}})
	if err != nil {
		t.Fatal(err)
	}
	want = "anchored checkpoint in checkpoints/x.txt: checkpoint of tree size 46 is signed by key " + audit.Keyring{clean.Old.Verifier}.String() + ", retired at tree size 25"
	if r.OK || r.Problem == nil || !strings.HasPrefix(r.Problem.String(), want) {
		t.Fatalf("check = ok %v, anchored %v, local %v\nwant %s", r.OK, r.Problem, r.Local.Problem, want)
	}
}
