package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func verifyWith(t *testing.T, path string, keys ...note.Verifier) audit.Report {
	t.Helper()
	s, err := store.OpenReadOnly(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := audit.Verify(context.Background(), s.DB(), keys...)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return r
}

func keyID(v note.Verifier) string { return audit.Keyring{v}.String() }

func TestVerifyAcrossAKeyRotation(t *testing.T) { storetest.Run(t, testVerifyAcrossAKeyRotation) }

func testVerifyAcrossAKeyRotation(t *testing.T) {
	// Old signs checkpoints at sizes 10, 20 and 25 (shutdown); entry 25 hands
	// over; New signs at 26, 30, 40 and 46.
	rot := audittest.BuildRotated(t, 25, 20, 10)
	oldKey, newKey := rot.Old.Verifier, rot.New.Verifier
	intruder := audittest.NewKeys(t, t.TempDir(), "intruder")

	tests := []struct {
		name    string
		keys    []note.Verifier
		problem string // "" for OK
	}{
		{name: "old and new keys verify the whole log", keys: []note.Verifier{oldKey, newKey}},
		{name: "the order of the keys does not matter", keys: []note.Verifier{newKey, oldKey}},
		{name: "a key listed twice is the same key", keys: []note.Verifier{oldKey, newKey, newKey}},
		{name: "the new key alone fails at the first checkpoint the old key signed", keys: []note.Verifier{newKey},
			problem: "checkpoint 1 (tree size 10): not signed by key " + keyID(newKey) + " (signatures: " + keyID(oldKey) + ")"},
		{name: "the old key alone fails at the rotation to a key it does not know", keys: []note.Verifier{oldKey},
			problem: "entry seq 25: key rotation: handover note is not signed by the successor key " + keyID(newKey) + " with a trusted public key"},
		{name: "an unrelated key fails at the first checkpoint", keys: []note.Verifier{intruder.Verifier},
			problem: "checkpoint 1 (tree size 10): not signed by key " + keyID(intruder.Verifier)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := verifyWith(t, rot.Path, tt.keys...)
			if tt.problem == "" {
				if !r.OK || r.Size != 46 || r.Checkpoints != 7 || r.UnsignedTail != 0 {
					t.Fatalf("report: ok=%v size=%d checkpoints=%d tail=%d problem=%v; want OK 46 7 0",
						r.OK, r.Size, r.Checkpoints, r.UnsignedTail, r.Problem)
				}
				want := []audit.KeyRun{
					{Key: keyID(oldKey), Name: "old-key", Checkpoints: 3, FirstSize: 10, LastSize: 25},
					{Key: keyID(newKey), Name: "new-key", Checkpoints: 4, FirstSize: 26, LastSize: 46},
				}
				if len(r.Signers) != 2 || r.Signers[0] != want[0] || r.Signers[1] != want[1] {
					t.Fatalf("signers %+v, want %+v", r.Signers, want)
				}
				wantBy := "keys " + keyID(oldKey) + " (tree sizes 10..25), then " + keyID(newKey) + " (tree sizes 26..46)"
				if len(r.Rotations) != 1 || r.Rotations[0].Retired != keyID(oldKey) || r.Rotations[0].Successor != keyID(newKey) || r.Rotations[0].Size != 25 {
					t.Fatalf("rotations %+v, want %s to %s at 25", r.Rotations, keyID(oldKey), keyID(newKey))
				}
				if got := r.SignedBy("unused"); got != wantBy {
					t.Fatalf("SignedBy = %q\nwant      %q", got, wantBy)
				}
				return
			}
			if r.OK || r.Problem == nil || !strings.HasPrefix(r.Problem.String(), tt.problem) {
				t.Fatalf("problem = %v\nwant prefix %s", r.Problem, tt.problem)
			}
		})
	}
}

func TestVerifyRefusesACheckpointByAnUntrustedKeyAfterARotation(t *testing.T) {
	storetest.Run(t, testVerifyRefusesACheckpointByAnUntrustedKeyAfterARotation)
}

func testVerifyRefusesACheckpointByAnUntrustedKeyAfterARotation(t *testing.T) {
	rot := audittest.BuildRotated(t, 25, 20, 10)
	intruder := audittest.NewKeys(t, t.TempDir(), "intruder")
	// Someone holding the database file and a key of their own appends and signs.
	audittest.Forge(t, rot.Path, intruder.Signer, 1)

	r := verifyWith(t, rot.Path, rot.Old.Verifier, rot.New.Verifier)
	want := "checkpoint 8 (tree size 47): not signed by any trusted key (trusted: " + keyID(rot.Old.Verifier) + ", " +
		keyID(rot.New.Verifier) + "; signatures: " + keyID(intruder.Verifier) + ")"
	if r.OK || r.Problem == nil || r.Problem.String() != want {
		t.Fatalf("problem = %v\nwant      %s", r.Problem, want)
	}
	if r.Size != 47 {
		t.Fatalf("verified %d entries before the problem, want 47 (every entry fits; only the signature is foreign)", r.Size)
	}
}

func TestVerifyWithNoKeyFailsClosed(t *testing.T) { storetest.Run(t, testVerifyWithNoKeyFailsClosed) }

func testVerifyWithNoKeyFailsClosed(t *testing.T) {
	rot := audittest.BuildRotated(t, 3, 3, 2)
	s, err := store.OpenReadOnly(context.Background(), rot.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := audit.Verify(context.Background(), s.DB()); err == nil || !strings.Contains(err.Error(), "no audit public key") {
		t.Fatalf("Verify without keys: err = %v, want no audit public key", err)
	}
	if _, err := audit.Verify(context.Background(), s.DB(), nil); err == nil {
		t.Fatal("Verify with a nil key succeeded")
	}
}

func TestInclusionProofsAcrossAKeyRotation(t *testing.T) {
	storetest.Run(t, testInclusionProofsAcrossAKeyRotation)
}

func testInclusionProofsAcrossAKeyRotation(t *testing.T) {
	rot := audittest.BuildRotated(t, 25, 20, 10)
	s, err := store.OpenReadOnly(context.Background(), rot.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	oldKey, newKey := rot.Old.Verifier, rot.New.Verifier
	tests := []struct {
		name string
		seq  int64
		keys []note.Verifier
		err  string // "" for a valid proof
	}{
		{name: "an entry from before the rotation, against the new key's checkpoint", seq: 3, keys: []note.Verifier{oldKey, newKey}},
		{name: "an entry from after the rotation", seq: 40, keys: []note.Verifier{oldKey, newKey}},
		{name: "the new key alone proves against its own checkpoint", seq: 3, keys: []note.Verifier{newKey}},
		{name: "the old key alone does not", seq: 3, keys: []note.Verifier{oldKey},
			err: "proof checkpoint: not signed by key " + keyID(oldKey) + " (signatures: " + keyID(newKey) + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.Audit().ProveInclusion(context.Background(), tt.seq)
			if err != nil {
				t.Fatal(err)
			}
			cp, err := audit.CheckInclusionProof(p, tt.keys...)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("err = %v\nwant  %s", err, tt.err)
				}
				return
			}
			if err != nil || cp.Size != 46 || cp.KeyName != "new-key" || cp.Key != keyID(newKey) {
				t.Fatalf("CheckInclusionProof = size %d key %q, %v; want 46 by new-key", cp.Size, cp.Key, err)
			}
		})
	}
}

func TestOpenCheckpointRefusesAnotherKeysOrigin(t *testing.T) {
	storetest.Run(t, testOpenCheckpointRefusesAnotherKeysOrigin)
}

func testOpenCheckpointRefusesAnotherKeysOrigin(t *testing.T) {
	rot := audittest.BuildRotated(t, 0, 0, 1)
	var root tlog.Hash
	// Signed by the new key, but claiming to be the old key's checkpoint.
	text := audit.FormatCheckpointText(audit.Origin("old-key"), 7, root, time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	msg, err := note.Sign(&note.Note{Text: text}, rot.New.Signer)
	if err != nil {
		t.Fatal(err)
	}
	_, err = audit.OpenCheckpoint(msg, rot.Old.Verifier, rot.New.Verifier)
	want := `checkpoint origin "tollgate/old-key", want "tollgate/new-key"`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant  %s", err, want)
	}
	if _, err := audit.OpenCheckpoint(msg); err == nil {
		t.Fatal("OpenCheckpoint with no key succeeded")
	}
}
