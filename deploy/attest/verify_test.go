package attest_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/deploy/attest"
)

// reEnvelope replaces an envelope's payload, keeping its signatures.
func reEnvelope(t testing.TB, envelope, payload []byte) []byte {
	t.Helper()
	var env dsse.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		t.Fatal(err)
	}
	env.Payload = base64.StdEncoding.EncodeToString(payload)
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTamperedAttestationsFail starts where an attacker starts: with the
// file on a server, or the key of something else, and checks that Verify
// names the check that catches each change.
func TestTamperedAttestationsFail(t *testing.T) {
	type setup struct {
		f    *fixture
		keys attest.Keys
	}
	tests := []struct {
		name  string
		make  func(t *testing.T, s *setup) []byte
		check string
		want  string
	}{
		{"flipped byte in the predicate", func(t *testing.T, s *setup) []byte {
			env := s.f.sign(t)
			payload := payloadOf(t, env)
			i := bytes.Index(payload, []byte(`"environment":"production"`)) + len(`"environment":"p`)
			payload[i] ^= 0x01 // production -> pqoduction
			return reEnvelope(t, env, payload)
		}, attest.CheckSignature, "the signature by key tollgate-attestation+55057e94 does not verify: the envelope changed after it was signed"},
		{"flipped byte in the signature", func(t *testing.T, s *setup) []byte {
			var env dsse.Envelope
			if err := json.Unmarshal(s.f.sign(t), &env); err != nil {
				t.Fatal(err)
			}
			sig, _ := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
			sig[10] ^= 0x80
			env.Signatures[0].Sig = base64.StdEncoding.EncodeToString(sig)
			out, _ := json.Marshal(env)
			return out
		}, attest.CheckSignature, "the signature by key tollgate-attestation+55057e94 does not verify"},
		{"signature by another key", func(t *testing.T, s *setup) []byte {
			other := newTestKey(t, "mallory", 7)
			env, err := attest.Sign(context.Background(), other.signing, s.f.statement)
			if err != nil {
				t.Fatal(err)
			}
			return env
		}, attest.CheckSignature, "not signed by a trusted attestation key (trusted: tollgate-attestation+55057e94; signatures: mallory+"},
		{"another key's signature under the trusted key's id", func(t *testing.T, s *setup) []byte {
			other := newTestKey(t, "mallory", 7)
			other.public.ID = s.f.attKey.public.ID
			return signRaw(t, other, attest.PayloadType, payloadOf(t, s.f.sign(t)))
		}, attest.CheckSignature, "the signature by key tollgate-attestation+55057e94 does not verify"},
		{"proof of another entry", func(t *testing.T, s *setup) []byte {
			e := s.f.statement.Predicate.Audit.Entries
			e[2].Proof = e[3].Proof // seq 3 carries seq 4's proof
			return s.f.sign(t)
		}, attest.CheckAuditProof, "audit entry seq 3 is not in the tree of size 8 signed by tollgate+"},
		{"entry changed after it was logged", func(t *testing.T, s *setup) []byte {
			s.f.statement.Predicate.Audit.Entries[2].Actor = "mallory"
			return s.f.sign(t)
		}, attest.CheckAuditProof, "audit entry seq 3 is not in the tree of size 8"},
		{"checkpoint of another tree", func(t *testing.T, s *setup) []byte {
			s.f.log.append(t, s.f.log.entries[0]) // same key, a longer log
			s.f.statement.Predicate.Audit.Checkpoint = s.f.log.checkpoint(t, s.f.auditKey, t0.Add(10*time.Minute))
			return s.f.sign(t)
		}, attest.CheckAuditProof, "audit entry seq 1 is not in the tree of size 9"},
		{"checkpoint signed by an untrusted key", func(t *testing.T, s *setup) []byte {
			s.f.statement.Predicate.Audit.Checkpoint = s.f.log.checkpoint(t, newTestKey(t, "tollgate", 8), t0.Add(10*time.Minute))
			return s.f.sign(t)
		}, attest.CheckAuditProof, "audit checkpoint: not signed by key tollgate+"},
		{"no audit key", func(t *testing.T, s *setup) []byte {
			s.keys.Audit = nil
			return s.f.sign(t)
		}, attest.CheckAuditProof, "no audit public key to verify with"},
		{"entry of another request", func(t *testing.T, s *setup) []byte {
			s.f.statement.Predicate.Audit.Entries = s.f.log.proven(t, 1, 6)
			return s.f.sign(t)
		}, attest.CheckAuditProof, `audit entry seq 6 (request.created) is about "req-43", not this deploy's request "req-42"`},
		{"checkpoint older than the deploy's end", func(t *testing.T, s *setup) []byte {
			s.f.statement.Predicate.Audit.Checkpoint = s.f.log.checkpoint(t, s.f.auditKey, t0.Add(8*time.Minute))
			return s.f.sign(t)
		}, attest.CheckAuditProof, "the checkpoint was signed at 2026-03-02T14:08:00Z, before the deploy finished at 2026-03-02T14:09:00Z"},
		{"key retired before the checkpoint", func(t *testing.T, s *setup) []byte {
			s.keys.Attestation[0].RetiredAt = t0.Add(9 * time.Minute)
			return s.f.sign(t)
		}, attest.CheckKeyRetired, "signed by key tollgate-attestation+"},
		{"another payload type", func(t *testing.T, s *setup) []byte {
			return signRaw(t, s.f.attKey, "application/json", payloadOf(t, s.f.sign(t)))
		}, attest.CheckEnvelope, `payload type "application/json", want "application/vnd.in-toto+json"`},
		{"not an envelope", func(t *testing.T, s *setup) []byte {
			return []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"","signatures":[],"extra":1}`)
		}, attest.CheckEnvelope, `unknown field "extra"`},
		{"two envelopes", func(t *testing.T, s *setup) []byte {
			env := s.f.sign(t)
			return append(env, env...)
		}, attest.CheckEnvelope, "data after the JSON object"},
		{"unsigned", func(t *testing.T, s *setup) []byte {
			return []byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[]}`)
		}, attest.CheckEnvelope, "the envelope has no signature"},
		{"another predicate type, signed", func(t *testing.T, s *setup) []byte {
			payload := bytes.Replace(payloadOf(t, s.f.sign(t)), []byte(attest.PredicateType), []byte("https://slsa.dev/provenance/v1"), 1)
			return signRaw(t, s.f.attKey, attest.PayloadType, payload)
		}, attest.CheckStatement, `predicate type "https://slsa.dev/provenance/v1"`},
		{"legacy statement type, signed", func(t *testing.T, s *setup) []byte {
			payload := bytes.Replace(payloadOf(t, s.f.sign(t)), []byte("Statement/v1"), []byte("Statement/v0.1"), 1)
			return signRaw(t, s.f.attKey, attest.PayloadType, payload)
		}, attest.CheckStatement, `statement _type "https://in-toto.io/Statement/v0.1"`},
		{"duplicate key, signed", func(t *testing.T, s *setup) []byte {
			payload := bytes.Replace(payloadOf(t, s.f.sign(t)), []byte(`"environment":"production"`),
				[]byte(`"environment":"production","environment":"staging"`), 1)
			return signRaw(t, s.f.attKey, attest.PayloadType, payload)
		}, attest.CheckStatement, `duplicate map key "environment"`},
		{"duplicate statement field, signed", func(t *testing.T, s *setup) []byte {
			payload := bytes.Replace(payloadOf(t, s.f.sign(t)), []byte(`"predicateType":`),
				[]byte(`"predicateType":"https://slsa.dev/provenance/v1","predicateType":`), 1)
			return signRaw(t, s.f.attKey, attest.PayloadType, payload)
		}, attest.CheckStatement, `duplicate field "predicateType"`},
		{"unknown predicate field, signed", func(t *testing.T, s *setup) []byte {
			payload := bytes.Replace(payloadOf(t, s.f.sign(t)), []byte(`"environment":`), []byte(`"approved_by_ceo":true,"environment":`), 1)
			return signRaw(t, s.f.attKey, attest.PayloadType, payload)
		}, attest.CheckStatement, `unknown field "approved_by_ceo"`},
		{"incomplete predicate, signed", func(t *testing.T, s *setup) []byte {
			payload := bytes.Replace(payloadOf(t, s.f.sign(t)), []byte(`"result":"succeeded"`), []byte(`"result":""`), 1)
			return signRaw(t, s.f.attKey, attest.PayloadType, payload)
		}, attest.CheckStatement, `predicate: result "" is not succeeded, failed or rolled_back`},
		{"manifest subject of another release, signed", func(t *testing.T, s *setup) []byte {
			payload := bytes.Replace(payloadOf(t, s.f.sign(t)), []byte(`"name":"release/20260302140700-8f3c2a1/manifest"`),
				[]byte(`"name":"release/20260101000000-0000000/manifest"`), 1)
			return signRaw(t, s.f.attKey, attest.PayloadType, payload)
		}, attest.CheckStatement, `subject 1 is not the sha256 of release "20260302140700-8f3c2a1"'s manifest`},
		{"commit subject differs from the predicate, signed", func(t *testing.T, s *setup) []byte {
			payload := bytes.Replace(payloadOf(t, s.f.sign(t)), []byte(`"gitCommit":"`+commitSHA+`"`), []byte(`"gitCommit":"`+otherSHA+`"`), 1)
			return signRaw(t, s.f.attKey, attest.PayloadType, payload)
		}, attest.CheckStatement, "subject 2 is not commit 8f3c2a1b9d4e5f60718293a4b5c6d7e8f9012345 of acme/shop"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			s := &setup{f: f, keys: f.keys()}
			env := tc.make(t, s)
			_, err := attest.Verify(context.Background(), env, s.keys, attest.Expectations{})
			var ce *attest.CheckError
			if !errors.As(err, &ce) || ce.Check != tc.check || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify: %v\nwant check %q failing with %q", err, tc.check, tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.check+": ") {
				t.Errorf("the message %q does not start with the check's name", err)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	f := newFixture(t)
	old := f.attKey
	env := f.sign(t) // signed by the old key; its checkpoint is of 14:09:02
	f.attKey = newTestKey(t, "tollgate-attestation-2027", 5)
	newEnv := f.sign(t)
	audit := []note.Verifier{f.auditKey.verify}
	retired := old.public
	retired.RetiredAt = t0.Add(time.Hour) // rotated out an hour after the deploy
	both := attest.Keys{Attestation: []attest.PublicKey{f.attKey.public, retired}, Audit: audit}
	for name, e := range map[string][]byte{"old": env, "new": newEnv} {
		if _, err := attest.Verify(context.Background(), e, both, attest.Expectations{}); err != nil {
			t.Errorf("%s key's attestation with current and previous keys: %v", name, err)
		}
	}
	onlyNew := attest.Keys{Attestation: []attest.PublicKey{f.attKey.public}, Audit: audit}
	_, err := attest.Verify(context.Background(), env, onlyNew, attest.Expectations{})
	if err == nil || !strings.Contains(err.Error(), "signature: not signed by a trusted attestation key (trusted: tollgate-attestation-2027+") {
		t.Errorf("old key's attestation with the new key only: %v", err)
	}
	retired.RetiredAt = t0 // rotated out before the deploy: whatever it signs since is forged
	both.Attestation[1] = retired
	_, err = attest.Verify(context.Background(), env, both, attest.Expectations{})
	if err == nil || !strings.Contains(err.Error(), "key-retirement: signed by key "+old.public.ID+" after it was retired at 2026-03-02T14:00:00Z (its audit checkpoint is of 2026-03-02T14:09:02Z)") {
		t.Errorf("attestation by a key retired before its checkpoint: %v", err)
	}
}
