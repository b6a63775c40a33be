package attest_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

// TestRoundTripWithTheRealAuditLog proves a deploy's entries from a real
// audit log in a temp SQLite file, the way the server will: append, sign a
// checkpoint after the deploy finished, prove each entry, sign.
func TestRoundTripWithTheRealAuditLog(t *testing.T) {
	ctx := context.Background()
	keys := audittest.NewKeys(t, t.TempDir(), audittest.KeyName)
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "tollgate.db"), store.Options{Signer: keys.Signer, CheckpointEvery: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f := newFixture(t)
	p := &f.statement.Predicate
	p.StartedAt = time.Now().UTC()
	var seqs []int64
	for _, ev := range []audit.Event{
		{Actor: "alice", Action: "request.created", Subject: requestID, Data: map[string]string{"sha": commitSHA}},
		{Actor: "erin", Action: "request.created", Subject: "req-43", Data: map[string]string{"sha": otherSHA}},
		{Actor: "bob", Action: "approval.granted", Subject: requestID, Data: map[string]any{"sha": commitSHA, "note": "<ok> & \u2028"}},
		{Actor: "tollgate", Action: "deploy.started", Subject: requestID, Data: nil},
		{Actor: "tollgate", Action: "deploy.finished", Subject: requestID, Data: map[string]string{"result": "succeeded"}},
	} {
		err := s.WithTx(ctx, func(tx *sql.Tx) error {
			e, err := s.Audit().Append(ctx, tx, ev)
			if ev.Subject == requestID {
				seqs = append(seqs, e.Seq)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	p.SwitchedAt = time.Now().UTC()
	p.FinishedAt = p.SwitchedAt
	cp, err := s.Audit().Checkpoint(ctx) // right after the deploy finished
	if err != nil {
		t.Fatal(err)
	}
	p.Audit = attest.Audit{Checkpoint: string(cp.Note)}
	for _, seq := range seqs {
		proof, err := s.Audit().ProveInclusion(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		if string(proof.Checkpoint) != p.Audit.Checkpoint {
			t.Fatalf("seq %d is proven against another checkpoint", seq)
		}
		p.Audit.Entries = append(p.Audit.Entries, attest.AuditEntry{Seq: proof.Seq, At: proof.At, Actor: proof.Actor,
			Action: proof.Action, Subject: proof.Subject, Data: string(proof.Data), Proof: proof.Proof})
	}
	env := f.sign(t)
	trusted := attest.Keys{Attestation: []attest.PublicKey{f.attKey.public}, Audit: []note.Verifier{keys.Verifier}}
	v, err := attest.Verify(ctx, env, trusted, attest.Expectations{Environment: "production", MinApprovals: 2})
	if err != nil {
		t.Fatal(err)
	}
	if v.Checkpoint.Size != 5 || v.Checkpoint.Key != cp.Key {
		t.Fatalf("checkpoint %+v, want size 5 signed by %s", v.Checkpoint, cp.Key)
	}

	p.Audit.Entries[1].Proof = p.Audit.Entries[2].Proof
	_, err = attest.Verify(ctx, f.sign(t), trusted, attest.Expectations{})
	if err == nil || !strings.Contains(err.Error(), "audit-proof: audit entry seq 2 is not in the tree of size 5 signed by "+cp.Key) {
		t.Fatalf("a proof of another entry of the real log: %v", err)
	}
}
