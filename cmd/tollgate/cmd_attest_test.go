package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

const attestSHA = "0123456789abcdef0123456789abcdef01234567"

// attestedRelease writes keys as `tollgate keygen` does, records a deploy
// in a real audit log, and writes its attestation into a release
// directory laid out as on a server. It returns the directory holding the
// keys and the release directory.
func attestedRelease(t *testing.T) (keys, release string) {
	t.Helper()
	ctx := context.Background()
	keys = t.TempDir()
	for _, name := range []string{"audit", "attestation"} {
		if _, err := audit.GenerateKeyFiles(filepath.Join(keys, name+".key"), filepath.Join(keys, name+".pub"), "tollgate-"+name); err != nil {
			t.Fatal(err)
		}
	}
	signer, err := audit.LoadSigner(filepath.Join(keys, "audit.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "tollgate.db"), store.Options{Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now().UTC()
	var seqs []int64
	for _, ev := range []audit.Event{
		{Actor: "alice", Action: "request.created", Subject: "req-1", Data: map[string]string{"sha": attestSHA}},
		{Actor: "bob", Action: "approval.granted", Subject: "req-1", Data: map[string]string{"sha": attestSHA}},
		{Actor: "tollgate", Action: "deploy.finished", Subject: "req-1", Data: map[string]string{"result": "succeeded"}},
	} {
		if err := s.WithTx(ctx, func(tx *sql.Tx) error {
			e, err := s.Audit().Append(ctx, tx, ev)
			seqs = append(seqs, e.Seq)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	end := time.Now().UTC()
	cp, err := s.Audit().Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p := attest.Predicate{Repository: "acme/shop", Environment: "production", Commit: attestSHA, Release: "20260302140700-0123456",
		RequestID: "req-1", Trigger: "slack",
		Servers:   []attest.Server{{Host: "127.0.0.1", Port: 2222, HostKeySHA256: "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"}},
		Requester: attest.Person{GitHubID: 1, Login: "alice"}, RequiredApprovals: 1,
		Approvals: []attest.Approval{{Approver: attest.Person{GitHubID: 2, Login: "bob"}, At: start, Commit: attestSHA, PolicyHash: "sha256:ab"}},
		Policy:    attest.Policy{Hash: "sha256:ab", DecidedAt: start, Checks: []attest.Check{{Name: "deployer_team", Outcome: attest.OutcomePass}}},
		StartedAt: start, SwitchedAt: end, FinishedAt: end, Result: attest.ResultSucceeded,
		Audit: attest.Audit{Checkpoint: string(cp.Note)}}
	for _, seq := range seqs {
		pr, err := s.Audit().ProveInclusion(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		p.Audit.Entries = append(p.Audit.Entries, attest.AuditEntry{Seq: pr.Seq, At: pr.At, Actor: pr.Actor, Action: pr.Action,
			Subject: pr.Subject, Data: string(pr.Data), Proof: pr.Proof})
	}
	key, err := attest.LoadSigningKey(filepath.Join(keys, "attestation.key"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := attest.Sign(ctx, key, attest.Statement{ManifestDigest: "sha256:" + strings.Repeat("ab", 32), Predicate: p})
	if err != nil {
		t.Fatal(err)
	}
	release = filepath.Join(t.TempDir(), "releases", p.Release)
	if err := os.MkdirAll(filepath.Join(release, ".tollgate"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(release, attest.FileName), env, 0o644); err != nil {
		t.Fatal(err)
	}
	return keys, release
}

func TestAttestVerify(t *testing.T) {
	keys, release := attestedRelease(t)
	pub, auditPub := filepath.Join(keys, "attestation.pub"), filepath.Join(keys, "audit.pub")
	file := filepath.Join(release, attest.FileName)
	flipped := filepath.Join(t.TempDir(), "flipped.json")
	data, _ := os.ReadFile(file)
	i := bytes.Index(data, []byte(`"payload":"`)) + 40
	data[i] ^= 0x01 // a byte of the base64 payload
	if err := os.WriteFile(flipped, data, 0o644); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	if _, err := audit.GenerateKeyFiles(filepath.Join(other, "k"), filepath.Join(other, "k.pub"), "tollgate-attestation"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		out  string // on stdout (or stderr for usage errors)
	}{
		{"release directory", []string{release, "--public-key", pub, "--audit-key", auditPub, "--environment", "production", "--min-approvals", "1", "--not-emergency"},
			exitOK, "OK: " + file},
		{"the file", []string{file, "--public-key", pub, "--audit-key", auditPub}, exitOK, "  approvals:  1 valid of 1 required: bob (2)"},
		{"flipped byte", []string{flipped, "--public-key", pub, "--audit-key", auditPub}, exitCheckFailed,
			"FAIL: signature: the signature by key tollgate-attestation+"},
		{"another key", []string{file, "--public-key", filepath.Join(other, "k.pub"), "--audit-key", auditPub}, exitCheckFailed,
			"FAIL: signature: not signed by a trusted attestation key"},
		{"attestation key as audit key", []string{file, "--public-key", pub, "--audit-key", pub}, exitCheckFailed,
			"FAIL: audit-proof: audit checkpoint: not signed by key tollgate-attestation+"},
		{"retired key", []string{file, "--retired-key", pub + "@2000-01-01", "--audit-key", auditPub}, exitCheckFailed,
			"FAIL: key-retirement: signed by key tollgate-attestation+"},
		{"environment", []string{release, "--public-key", pub, "--audit-key", auditPub, "--environment", "staging"}, exitCheckFailed,
			`FAIL: environment: the deploy is of environment "production", want "staging"`},
		{"approvals", []string{release, "--public-key", pub, "--audit-key", auditPub, "--min-approvals", "2"}, exitCheckFailed,
			"FAIL: min-approvals: 1 valid approval(s)"},
		{"no attestation in the directory", []string{filepath.Dir(release), "--public-key", pub, "--audit-key", auditPub}, exitCheckFailed,
			"FAIL: envelope: read attestation: the release directory has no .tollgate/attestation.dsse.json"},
		{"no key", []string{file, "--audit-key", auditPub}, exitUsage, "--public-key FILE and --audit-key FILE are required"},
		{"no audit key", []string{file, "--public-key", pub}, exitUsage, "--public-key FILE and --audit-key FILE are required"},
		{"no file", []string{"--public-key", pub, "--audit-key", auditPub}, exitUsage, "usage: tollgate attest verify"},
		{"missing file", []string{filepath.Join(release, "nope"), "--public-key", pub, "--audit-key", auditPub}, exitUsage, "no such file"},
		{"bad retired key", []string{file, "--retired-key", pub, "--audit-key", auditPub}, exitUsage, "want FILE@TIME"},
		{"no subcommand", nil, exitUsage, "usage: tollgate attest verify"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"attest"}, tc.args...)
			if tc.name != "no subcommand" {
				args = append([]string{"attest", "verify"}, tc.args...)
			}
			code := dispatch(context.Background(), args, &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.out) {
				t.Fatalf("exit %d, want %d with %q\nstdout: %s\nstderr: %s", code, tc.code, tc.out, stdout.String(), stderr.String())
			}
		})
	}
}
