package attest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy/attest"
)

var update = flag.Bool("update", false, "rewrite testdata/attestation.dsse.json and statement.json")

func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	env := f.sign(t)
	v, err := attest.Verify(context.Background(), env, f.keys(), attest.Expectations{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(v.Statement, f.statement) {
		t.Fatalf("verified statement differs from the signed one:\n got %+v\nwant %+v", v.Statement, f.statement)
	}
	sum := sha256.Sum256(env)
	if v.EnvelopeDigest != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("envelope digest %s", v.EnvelopeDigest)
	}
	if v.KeyID != f.attKey.public.ID || !strings.HasPrefix(v.KeyID, "tollgate-attestation+") {
		t.Errorf("key id %q, want %q", v.KeyID, f.attKey.public.ID)
	}
	if v.Checkpoint.Size != 8 || !strings.HasPrefix(v.Checkpoint.Key, "tollgate+") || !v.Checkpoint.Time.Equal(t0.Add(9*time.Minute+2*time.Second)) {
		t.Errorf("checkpoint %+v", v.Checkpoint)
	}
	want := []string{attest.CheckEnvelope, attest.CheckSignature, attest.CheckStatement, attest.CheckAuditProof, attest.CheckKeyRetired}
	if !reflect.DeepEqual(v.Checks, want) {
		t.Errorf("checks %v, want %v", v.Checks, want)
	}
}

func TestSignConvertsTimesToUTC(t *testing.T) {
	f := newFixture(t)
	utc := f.sign(t)
	berlin := time.FixedZone("CET", 3600)
	p := &f.statement.Predicate
	p.StartedAt, p.FinishedAt = p.StartedAt.In(berlin), p.FinishedAt.In(berlin)
	p.Approvals = append([]attest.Approval(nil), p.Approvals...)
	p.Approvals[0].At = p.Approvals[0].At.In(berlin)
	if got := f.sign(t); string(got) != string(utc) {
		t.Fatalf("the signed bytes depend on the time zone:\n%s\n%s", got, utc)
	}
}

// TestGolden pins the canonical form: a fixed key, fixed times and a fixed
// audit log give the same bytes on every run. Run with -update after a
// deliberate change of the format (which needs a new predicate version).
func TestGolden(t *testing.T) {
	f := newFixture(t)
	env := f.sign(t)
	golden := filepath.Join("testdata", "attestation.dsse.json")
	if *update {
		if err := os.WriteFile(golden, env, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(env) != string(want) {
		t.Fatalf("the signed attestation differs from %s (run go test -update after a deliberate format change):\n got %s\nwant %s", golden, env, want)
	}
	payload := payloadOf(t, want)
	var indented bytes.Buffer
	if err := json.Indent(&indented, payload, "", "  "); err != nil {
		t.Fatal(err)
	}
	indented.WriteByte('\n')
	readable := filepath.Join("testdata", "statement.json") // the payload, indented for people
	if *update {
		if err := os.WriteFile(readable, indented.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile(readable); err != nil || string(b) != indented.String() {
		t.Fatalf("%s differs from the golden envelope's payload (%v)", readable, err)
	}
	if !strings.HasPrefix(string(payload), `{"_type":"https://in-toto.io/Statement/v1","predicate":{"approvals":[`) {
		t.Errorf("payload is not canonical JSON (sorted keys, no spaces): %.80s", payload)
	}
	if !strings.Contains(string(payload), `"reason":"ship the <checkout> fix & more"`) {
		t.Errorf("payload escapes HTML characters")
	}
	if _, err := attest.Verify(context.Background(), want, f.keys(), attest.Expectations{}); err != nil {
		t.Fatalf("the golden attestation does not verify: %v", err)
	}
}

func TestReadFileFindsTheAttestationInAReleaseDirectory(t *testing.T) {
	f := newFixture(t)
	env := f.sign(t)
	release := filepath.Join(t.TempDir(), "releases", f.statement.Predicate.Release)
	if err := os.MkdirAll(filepath.Join(release, ".tollgate"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(release, ".tollgate", "attestation.dsse.json")
	if err := os.WriteFile(file, env, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{release, file} {
		data, got, err := attest.ReadFile(path)
		if err != nil || got != file || string(data) != string(env) {
			t.Fatalf("ReadFile(%s) = %d bytes from %s, %v; want %s", path, len(data), got, err, file)
		}
	}
	_, _, err := attest.ReadFile(filepath.Dir(release))
	if err == nil || !strings.Contains(err.Error(), "the release directory has no .tollgate/attestation.dsse.json") {
		t.Fatalf("ReadFile of a directory without one: %v", err)
	}
	big := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(big, make([]byte, attest.MaxSize+1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := attest.ReadFile(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("ReadFile of an oversized file: %v", err)
	}
}

func TestSignRefusesAnIncompletePredicate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*attest.Statement)
		want   string
	}{
		{"manifest digest", func(s *attest.Statement) { s.ManifestDigest = "9f86d081" }, `manifest digest "9f86d081" is not sha256:<hex>`},
		{"short commit", func(s *attest.Statement) { s.Predicate.Commit = "8f3c2a1" }, `commit "8f3c2a1" is not a full lowercase hex commit SHA`},
		{"no servers", func(s *attest.Statement) { s.Predicate.Servers = nil }, "servers is empty"},
		{"host key", func(s *attest.Statement) { s.Predicate.Servers[1].HostKeySHA256 = "MD5:aa" }, `servers[1]: host_key_sha256 "MD5:aa" is not an SSH SHA256 fingerprint`},
		{"requester id", func(s *attest.Statement) { s.Predicate.Requester.GitHubID = 0 }, "requester.github_id 0 is not a GitHub account id"},
		{"approval policy", func(s *attest.Statement) { s.Predicate.Approvals[1].PolicyHash = "" }, "approvals[1]: policy_hash is empty"},
		{"check outcome", func(s *attest.Statement) { s.Predicate.Policy.Checks[0].Outcome = "ok" }, `policy.checks[0] (deployer_team): outcome "ok" is not pass, fail or skipped`},
		{"emergency without reason", func(s *attest.Statement) {
			s.Predicate.Emergency = attest.Emergency{Declared: true, ReviewState: attest.ReviewPending, ReviewDueAt: t0.Add(24 * time.Hour)}
			s.Predicate.Reason = ""
		}, "emergency: an emergency change needs a reason"},
		{"review without emergency", func(s *attest.Statement) { s.Predicate.Emergency.ReviewState = attest.ReviewPending }, "emergency: a review without an emergency"},
		{"unswitched success", func(s *attest.Statement) { s.Predicate.SwitchedAt = time.Time{} }, "switched_at is missing for a succeeded deploy"},
		{"times out of order", func(s *attest.Statement) { s.Predicate.FinishedAt = s.Predicate.StartedAt.Add(-time.Second) }, "finished_at 2026-03-02T14:06:59Z is before switched_at"},
		{"result", func(s *attest.Statement) { s.Predicate.Result = "ok" }, `result "ok" is not succeeded, failed or rolled_back`},
		{"no audit entries", func(s *attest.Statement) { s.Predicate.Audit.Entries = nil }, "audit.entries is empty"},
		{"audit order", func(s *attest.Statement) {
			e := s.Predicate.Audit.Entries
			e[0], e[1] = e[1], e[0]
		}, "audit.entries[1]: seq 1 does not follow seq 2"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.change(&f.statement)
			_, err := attest.Sign(context.Background(), f.attKey.signing, f.statement)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Sign: %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := attest.Sign(context.Background(), attest.SigningKey{}, newFixture(t).statement); err == nil {
		t.Fatal("Sign with the zero key succeeded")
	}
}

func TestKeysRoundTripAndRefuseGarbage(t *testing.T) {
	k := newTestKey(t, "attest-2026", 9)
	if k.signing.ID() != k.public.ID || k.public.ID != k.verify.Name()+"+"+hex.EncodeToString([]byte{
		byte(k.verify.KeyHash() >> 24), byte(k.verify.KeyHash() >> 16), byte(k.verify.KeyHash() >> 8), byte(k.verify.KeyHash())}) {
		t.Fatalf("key ids %q, %q", k.signing.ID(), k.public.ID)
	}
	if !reflect.DeepEqual(k.signing.Public(), k.public) {
		t.Fatal("the public half of the signing key differs from the public key")
	}
	again, err := attest.ParsePublicKey(k.public.String())
	if err != nil || !reflect.DeepEqual(again, k.public) {
		t.Fatalf("String/ParsePublicKey round trip: %v", err)
	}
	secret := "PRIVATE+KEY+attest-2026+00000000+AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB"
	_, err = attest.ParseSigningKey(secret) // the hash does not match the key
	if err == nil || strings.Contains(err.Error(), "AQEB") {
		t.Fatalf("ParseSigningKey of a key with a wrong hash: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "attestation.key")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := attest.LoadSigningKey(path); err == nil || strings.Contains(err.Error(), "AQEB") {
		t.Fatalf("LoadSigningKey leaks or accepts the key: %v", err)
	}
	if _, err := attest.ParsePublicKey("tollgate+abc"); err == nil {
		t.Fatal("ParsePublicKey accepted garbage")
	}
	if _, err := attest.LoadPublicKey(filepath.Join(dir, "missing.pub")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("LoadPublicKey of a missing file: %v", err)
	}
}

func TestGenerateKeyFilesWritesAPairItNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "a.key"), filepath.Join(dir, "a.pub")
	k, err := attest.GenerateKeyFiles(priv, pub, "tollgate-attestation")
	if err != nil {
		t.Fatal(err)
	}
	sk, err := attest.LoadSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := attest.LoadPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if sk.ID() != k.ID || pk.String() != k.String() || !strings.HasPrefix(k.ID, "tollgate-attestation+") {
		t.Errorf("key ids %q, %q, %q", sk.ID(), pk.ID, k.ID)
	}
	if st, err := os.Stat(priv); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, %v", st.Mode(), err)
	}
	if _, err := attest.GenerateKeyFiles(priv, filepath.Join(dir, "b.pub"), "x"); !errors.Is(err, fs.ErrExist) {
		t.Errorf("overwrote a key: %v", err)
	}
	if _, err := attest.GenerateKeyFiles(filepath.Join(dir, "c.key"), filepath.Join(dir, "c.pub"), "has space"); err == nil {
		t.Error("a name with a space was accepted")
	}
}

// SplitRetiredKey reads the FILE@TIME of `attest verify --retired-key` and
// attestation.previous_public_key_files alike.
func TestSplitRetiredKey(t *testing.T) {
	tests := []struct {
		spec, file string
		at         time.Time
		err        string
	}{
		{spec: "old.pub", file: "old.pub"},
		{spec: "old.pub@2026-03-01T00:00:00Z", file: "old.pub", at: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{spec: "old.pub@2026-03-01T02:00:00+02:00", file: "old.pub", at: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{spec: "old.pub@2026-03-01", file: "old.pub", at: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{spec: "/k@v2/old.pub@2026-03-01", file: "/k@v2/old.pub", at: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{spec: "/k@v2/old.pub", err: `retirement time "v2/old.pub" is neither RFC 3339 nor YYYY-MM-DD`},
		{spec: "old.pub@yesterday", err: `retirement time "yesterday" is neither RFC 3339 nor YYYY-MM-DD`},
		{spec: "@2026-03-01", err: `"@2026-03-01" names no key file before its retirement time`},
	}
	for _, tc := range tests {
		file, at, err := attest.SplitRetiredKey(tc.spec)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("%s: %q, %v, %v; want error %q", tc.spec, file, at, err, tc.err)
			}
			continue
		}
		if err != nil || file != tc.file || !at.Equal(tc.at) || at.Location() != time.UTC {
			t.Errorf("%s: %q, %v, %v; want %q, %v", tc.spec, file, at, err, tc.file, tc.at)
		}
	}
}
