package audit_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

// The old key leaked and was rotated out at tree size 25; whoever holds it
// and the database file appends entries and signs them with it.
func TestVerifyRefusesARetiredKeyAfterItsRotation(t *testing.T) {
	tests := []struct {
		name     string
		appended int
		size     int64
		id       int64
	}{
		{name: "entries appended after the rotation, signed by the retired key", appended: 1, size: 47, id: 8},
		{name: "the retired key signing the very tree the new key signed", appended: 0, size: 46, id: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rot := audittest.BuildRotated(t, 25, 20, 10)
			audittest.Forge(t, rot.Path, rot.Old.Signer, tt.appended)

			r := verifyWith(t, rot.Path, rot.Old.Verifier, rot.New.Verifier)
			want := fmt.Sprintf("checkpoint %d (tree size %d): signed by key %s, retired at tree size 25 by the key rotation at seq 25 (to %s)",
				tt.id, tt.size, keyID(rot.Old.Verifier), keyID(rot.New.Verifier))
			if r.OK || r.Problem == nil || !strings.HasPrefix(r.Problem.String(), want) {
				t.Fatalf("problem = %v\nwant prefix %s", r.Problem, want)
			}
		})
	}
}

func TestVerifyRefusesAKeyNoRotationIntroduced(t *testing.T) {
	// The signing key was swapped in the config without `tollgate audit
	// rotate`: nothing in the log retires the old key or introduces the new.
	dir := t.TempDir()
	path := filepath.Join(dir, "tollgate.db")
	oldKeys, newKeys := audittest.NewKeys(t, dir, "old-key"), audittest.NewKeys(t, dir, "new-key")
	audittest.AppendWith(t, path, oldKeys.Signer, 10, 0, 25)
	audittest.Forge(t, path, newKeys.Signer, 5)

	r := verifyWith(t, path, oldKeys.Verifier, newKeys.Verifier)
	want := fmt.Sprintf("checkpoint 4 (tree size 30): signed by key %s, but the active key at this size is %s and no key rotation entry hands over to %s",
		keyID(newKeys.Verifier), keyID(oldKeys.Verifier), keyID(newKeys.Verifier))
	if r.OK || r.Problem == nil || r.Problem.String() != want {
		t.Fatalf("problem = %v\nwant      %s", r.Problem, want)
	}
}

// handover is a handover note's text as Log.Rotate writes it.
func handover(retired, successor note.Verifier, size int64, root string) string {
	return fmt.Sprintf("tollgate audit key rotation\nretired %s\nsuccessor %s\ntree-size %d\nroot %s\ntimestamp 2025-03-02T09:00:00Z\n",
		keyID(retired), keyID(successor), size, root)
}

func TestVerifyChecksEveryKeyRotationEntry(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldKeys, newKeys := audittest.NewKeys(t, dir, "old-key"), audittest.NewKeys(t, dir, "new-key")
	tests := []struct {
		name    string
		signers func() []note.Signer
		size    int64 // tree size the note names; the entry is seq 10
		root    bool  // the note names the real root (else a zero hash)
		data    func(d map[string]any)
		problem string
	}{
		{name: "signed by the successor alone (the retiring key never agreed)", size: 10, root: true,
			signers: func() []note.Signer { return []note.Signer{newKeys.Signer} },
			problem: "entry seq 10: key rotation: handover note is not signed by the retiring key " + keyID(oldKeys.Verifier)},
		{name: "signed by the retiring key alone", size: 10, root: true,
			signers: func() []note.Signer { return []note.Signer{oldKeys.Signer} },
			problem: "entry seq 10: key rotation: handover note is not signed by the successor key " + keyID(newKeys.Verifier)},
		{name: "a handover made for another tree size", size: 9, root: true,
			signers: func() []note.Signer { return []note.Signer{oldKeys.Signer, newKeys.Signer} },
			problem: "entry seq 10: key rotation: handover note names tree size 9"},
		{name: "a handover made for another tree", size: 10,
			signers: func() []note.Signer { return []note.Signer{oldKeys.Signer, newKeys.Signer} },
			problem: "entry seq 10: key rotation: handover note names root "},
		{name: "entry data that says something else than the note", size: 10, root: true,
			signers: func() []note.Signer { return []note.Signer{oldKeys.Signer, newKeys.Signer} },
			data:    func(d map[string]any) { d["tree_size"] = 99 },
			problem: "entry seq 10: key rotation: entry data (retired " + keyID(oldKeys.Verifier)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tollgate.db")
			audittest.AppendWith(t, path, oldKeys.Signer, 5, 0, 10)
			s, err := store.Open(ctx, path, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			root := base64.StdEncoding.EncodeToString(make([]byte, 32))
			if tt.root {
				h, err := s.Audit().TreeHash(ctx, 10)
				if err != nil {
					t.Fatal(err)
				}
				root = base64.StdEncoding.EncodeToString(h[:])
			}
			msg, err := note.Sign(&note.Note{Text: handover(oldKeys.Verifier, newKeys.Verifier, tt.size, root)}, tt.signers()...)
			if err != nil {
				t.Fatal(err)
			}
			d := map[string]any{"handover": string(msg), "retired_key": keyID(oldKeys.Verifier),
				"successor_key": keyID(newKeys.Verifier), "tree_size": tt.size}
			if tt.data != nil {
				tt.data(d)
			}
			raw, _ := json.Marshal(d)
			if err := s.WithTx(ctx, func(tx *sql.Tx) error {
				_, err := s.Audit().Append(ctx, tx, audit.Event{Actor: "tollgate", Action: audit.ActionKeyRotated,
					Subject: audit.RotationSubject, Data: json.RawMessage(raw)})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			r := verifyWith(t, path, oldKeys.Verifier, newKeys.Verifier)
			if r.OK || r.Problem == nil || !strings.HasPrefix(r.Problem.String(), tt.problem) {
				t.Fatalf("problem = %v\nwant prefix %s", r.Problem, tt.problem)
			}
		})
	}
}

func TestOnlyTheActiveKeySigns(t *testing.T) {
	ctx := context.Background()
	rot := audittest.BuildRotated(t, 12, 3, 5)
	intruder := audittest.NewKeys(t, t.TempDir(), "intruder")

	// A process still running with the old key when the rotation happened
	// fails closed at its next checkpoint rather than sign with it.
	raw := audittest.OpenRaw(t, rot.Path)
	stale := audit.New(raw, audit.Options{Signer: rot.Old.Signer, CheckpointEvery: 1})
	tx, err := raw.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = stale.Append(ctx, tx, audittest.Event(99))
	tx.Rollback()
	if !errors.Is(err, audit.ErrKeyNotActive) {
		t.Fatalf("append and checkpoint by the retired key: err = %v, want %v", err, audit.ErrKeyNotActive)
	}
	if _, err := stale.Rotate(ctx, intruder.Signer); !errors.Is(err, audit.ErrKeyNotActive) {
		t.Fatalf("rotation by the retired key: err = %v, want %v", err, audit.ErrKeyNotActive)
	}
	for _, k := range []audittest.Keys{rot.Old, intruder} {
		_, err := store.Open(ctx, rot.Path, store.Options{Signer: k.Signer})
		want := "audit signing key " + keyID(k.Verifier) + ": not the audit log's active signing key (" + keyID(rot.New.Verifier) + ")"
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("open with %s: err = %v\nwant %s", k.Signer.Name(), err, want)
		}
	}
	s, err := store.Open(ctx, rot.Path, store.Options{Signer: rot.New.Signer})
	if err != nil {
		t.Fatalf("open with the active key: %v", err)
	}
	s.Close()

	// A retired key is never handed back to.
	back, err := store.Open(ctx, rot.Path, store.Options{Signer: rot.New.Signer})
	if err != nil {
		t.Fatal(err)
	}
	_, err = back.Audit().Rotate(ctx, rot.Old.Signer)
	back.Close()
	if want := "key " + keyID(rot.Old.Verifier) + " was retired at tree size 12 and may not sign again"; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("rotating back: err = %v, want %s", err, want)
	}

	// Rotating twice hands over again; the first key stays retired.
	audittest.Rotate(t, rot.Path, rot.New.Signer, intruder.Signer)
	audittest.AppendWith(t, rot.Path, intruder.Signer, 5, 20, 4)
	r := verifyWith(t, rot.Path, rot.Old.Verifier, rot.New.Verifier, intruder.Verifier)
	if !r.OK || len(r.Rotations) != 2 || r.Rotations[1].Size != 16 || r.Rotations[1].Successor != keyID(intruder.Verifier) {
		t.Fatalf("after a second rotation: ok=%v rotations %+v problem %v", r.OK, r.Rotations, r.Problem)
	}
	if got := r.SignedBy(""); !strings.Contains(got, keyID(rot.New.Verifier)+" (tree sizes 13..16), then "+keyID(intruder.Verifier)) {
		t.Fatalf("SignedBy = %s", got)
	}
}

func TestKeyAtFollowsTheRotations(t *testing.T) {
	rs := []audit.Handover{{Retired: "a+1", Successor: "b+2", Size: 10}, {Retired: "b+2", Successor: "c+3", Size: 20}}
	tests := []struct {
		size int64
		key  string
		err  string
	}{
		{size: 5, key: "a+1"}, {size: 10, key: "a+1"}, {size: 11, key: "b+2"}, {size: 20, key: "b+2"}, {size: 21, key: "c+3"},
		{size: 11, key: "a+1", err: "checkpoint of tree size 11 is signed by key a+1, retired at tree size 10 (key rotation to b+2)"},
		{size: 12, key: "c+3", err: "checkpoint of tree size 12 is signed by key c+3, but the active key at that size is b+2"},
	}
	for _, tt := range tests {
		err := audit.CheckKeyAt(rs, audit.Checkpoint{Size: tt.size, Key: tt.key, Time: time.Time{}})
		if (err == nil) != (tt.err == "") || (err != nil && err.Error() != tt.err) {
			t.Errorf("CheckKeyAt(%s at %d) = %v, want %q", tt.key, tt.size, err, tt.err)
		}
	}
	if got := audit.KeyAt(nil, 5); got != "" {
		t.Errorf("KeyAt with no rotation = %q, want any key", got)
	}
}
