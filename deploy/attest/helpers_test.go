package attest_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/internal/auditproof"
)

// testKey is a fixed ed25519 key in note format, so signatures (and the
// golden file) are the same on every run.
type testKey struct {
	name    string
	priv    ed25519.PrivateKey
	signing attest.SigningKey
	public  attest.PublicKey
	signer  note.Signer   // as an audit checkpoint key
	verify  note.Verifier // as an audit checkpoint key
}

func newTestKey(t testing.TB, name string, seed byte) testKey {
	t.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize))
	vkey, err := note.NewEd25519VerifierKey(name, priv.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	k := testKey{name: name, priv: priv}
	if k.verify, err = note.NewVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	skey := fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", name, k.verify.KeyHash(),
		base64.StdEncoding.EncodeToString(append([]byte{1}, priv.Seed()...)))
	if k.signer, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	if k.signing, err = attest.ParseSigningKey(skey); err != nil {
		t.Fatal(err)
	}
	if k.public, err = attest.ParsePublicKey(vkey); err != nil {
		t.Fatal(err)
	}
	return k
}

// memLog is an audit log kept in memory with tlog, encoded as store/audit
// encodes it (auditproof's leaf encoding).
type memLog struct {
	entries []auditproof.Entry
	hashes  []tlog.Hash
}

func (l *memLog) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = l.hashes[x]
	}
	return out, nil
}

func (l *memLog) append(t testing.TB, e auditproof.Entry) {
	t.Helper()
	e.Seq = int64(len(l.entries))
	hashes, err := tlog.StoredHashes(e.Seq, auditproof.AppendLeaf(nil, e), l)
	if err != nil {
		t.Fatal(err)
	}
	l.entries = append(l.entries, e)
	l.hashes = append(l.hashes, hashes...)
}

// checkpoint signs the whole tree at the given time, as store/audit does.
func (l *memLog) checkpoint(t testing.TB, k testKey, at time.Time) string {
	t.Helper()
	size := int64(len(l.entries))
	root, err := tlog.TreeHash(size, l)
	if err != nil {
		t.Fatal(err)
	}
	text := fmt.Sprintf("%s\n%d\n%s\ntimestamp %s\n", auditproof.Origin(k.name), size, root, at.UTC().Format(time.RFC3339Nano))
	msg, err := note.Sign(&note.Note{Text: text}, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	return string(msg)
}

// proven returns entries seqs with their proofs in the current tree.
func (l *memLog) proven(t testing.TB, seqs ...int64) []attest.AuditEntry {
	t.Helper()
	out := make([]attest.AuditEntry, len(seqs))
	for i, seq := range seqs {
		proof, err := tlog.ProveRecord(int64(len(l.entries)), seq, l)
		if err != nil {
			t.Fatal(err)
		}
		e := l.entries[seq]
		out[i] = attest.AuditEntry{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Data: string(e.Data), Proof: proof}
	}
	return out
}

var t0 = time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)

const (
	commitSHA  = "8f3c2a1b9d4e5f60718293a4b5c6d7e8f9012345"
	otherSHA   = "1111111111111111111111111111111111111111"
	policyHash = "sha256:5d41402abc4b2a76b9719d911017c592aa4be23b6b1d4d2bb1d9aaf9a8c3c1a2"
	manifest   = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	requestID  = "req-42"
)

// fixture is a complete deploy: its audit entries in a log with some
// unrelated entries around them, a checkpoint after it finished, and the
// predicate proving them.
type fixture struct {
	attKey, auditKey testKey
	log              *memLog
	statement        attest.Statement
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{attKey: newTestKey(t, "tollgate-attestation", 1), auditKey: newTestKey(t, "tollgate", 2), log: &memLog{}}
	add := func(min int, actor, action, subject string, data any) {
		raw, err := json.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		f.log.append(t, auditproof.Entry{At: t0.Add(time.Duration(min) * time.Minute).Format(time.RFC3339Nano),
			Actor: actor, Action: action, Subject: subject, Data: raw})
	}
	add(-10, "tollgate", "lock.released", "production", map[string]string{"by": "carol"})
	add(0, "alice", "request.created", requestID, map[string]string{"sha": commitSHA, "environment": "production"})
	add(0, "tollgate", "policy.decided", requestID, map[string]bool{"allowed": true})
	add(5, "bob", "approval.granted", requestID, map[string]string{"sha": commitSHA})
	add(6, "dave", "approval.granted", requestID, map[string]string{"sha": commitSHA})
	add(7, "tollgate", "deploy.started", requestID, map[string]string{"release": "20260302140700-8f3c2a1"})
	add(8, "erin", "request.created", "req-43", map[string]string{"sha": otherSHA})
	add(9, "tollgate", "deploy.finished", requestID, map[string]string{"result": "succeeded"})
	cp := f.log.checkpoint(t, f.auditKey, t0.Add(9*time.Minute+2*time.Second))
	f.statement = attest.Statement{ManifestDigest: manifest, Predicate: attest.Predicate{
		Repository: "acme/shop", Environment: "production", Commit: commitSHA, Ref: "main",
		Release: "20260302140700-8f3c2a1", RequestID: requestID, Trigger: "slack",
		Servers: []attest.Server{
			{Host: "web1.internal", Port: 22, HostKeySHA256: "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"},
			{Host: "web2.internal", Port: 2222, HostKeySHA256: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"},
		},
		Requester:         attest.Person{GitHubID: 1001, Login: "alice"},
		RequiredApprovals: 2,
		Approvals: []attest.Approval{
			{Approver: attest.Person{GitHubID: 1002, Login: "bob"}, At: t0.Add(5 * time.Minute), Commit: commitSHA, PolicyHash: policyHash},
			{Approver: attest.Person{GitHubID: 1004, Login: "dave"}, At: t0.Add(6 * time.Minute), Commit: commitSHA, PolicyHash: policyHash},
		},
		Policy: attest.Policy{Hash: policyHash, DecidedAt: t0, Checks: []attest.Check{
			{Name: "deployer_team", Outcome: attest.OutcomePass, LookedUp: "acme/deployers", Detail: "alice is a member"},
			{Name: "pr_review", Outcome: attest.OutcomePass, LookedUp: "acme/shop#17", Detail: "approved by bob at the head SHA"},
			{Name: "freeze", Outcome: attest.OutcomeSkipped, Detail: "no freeze window configured"},
		}},
		Reason:     "ship the <checkout> fix & more",
		Ticket:     "OPS-7",
		StartedAt:  t0.Add(7 * time.Minute),
		SwitchedAt: t0.Add(8*time.Minute + 30*time.Second),
		FinishedAt: t0.Add(9 * time.Minute),
		Result:     attest.ResultSucceeded,
		Audit:      attest.Audit{Checkpoint: cp, Entries: f.log.proven(t, 1, 2, 3, 4, 5, 7)},
	}}
	return f
}

func (f *fixture) keys() attest.Keys {
	return attest.Keys{Attestation: []attest.PublicKey{f.attKey.public}, Audit: []note.Verifier{f.auditKey.verify}}
}

func (f *fixture) sign(t testing.TB) []byte {
	t.Helper()
	env, err := attest.Sign(context.Background(), f.attKey.signing, f.statement)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// signRaw signs any payload as an attestation with k, bypassing Sign's
// checks, the way a holder of the key could.
func signRaw(t testing.TB, k testKey, payloadType string, payload []byte) []byte {
	t.Helper()
	pae := dsse.PAE(payloadType, payload)
	env := dsse.Envelope{PayloadType: payloadType, Payload: base64.StdEncoding.EncodeToString(payload),
		Signatures: []dsse.Signature{{KeyID: k.public.ID, Sig: base64.StdEncoding.EncodeToString(ed25519.Sign(k.priv, pae))}}}
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// payloadOf returns the statement an envelope carries.
func payloadOf(t testing.TB, envelope []byte) []byte {
	t.Helper()
	var env dsse.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return payload
}
