package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

func TestKeygenWritesAKeyPairARotationCanUse(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "keygen", "--name", "tollgate-2026", "--out", dir)
	priv, pub := filepath.Join(dir, "audit-signing-tollgate-2026.key"), filepath.Join(dir, "audit-signing-tollgate-2026.pub")
	if code != exitOK || !strings.Contains(out, "signing_key_file: "+priv) || strings.Contains(out, "PRIVATE+KEY") {
		t.Fatalf("keygen: exit %d\n%s%s", code, out, errOut)
	}
	if st, err := os.Stat(priv); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v, mode %v; want 0600", err, st.Mode())
	}
	signer, err := audit.LoadSigner(priv)
	if err != nil {
		t.Fatal(err)
	}

	// Rotate an existing log to the new key as docs/operations.md says;
	// both public keys verify it, and the old key no longer signs.
	old := audittest.Build(t, 12, 5)
	code, out, errOut = runCLI(t, "audit", "rotate", "--database", old.Path, "--signing-key", old.Keys.PrivateKeyFile, "--to", priv)
	if code != exitOK || !strings.Contains(out, "rotated the audit log at tree size 12: test-key+") ||
		!strings.Contains(out, "tollgate-2026+") || !strings.Contains(out, "signing_key_file: "+priv) {
		t.Fatalf("audit rotate: exit %d\n%s%s", code, out, errOut)
	}
	audittest.AppendWith(t, old.Path, signer, 5, 12, 8)
	code, out, errOut = runCLI(t, "verify", "--database", old.Path, "--public-key", old.Keys.PublicKeyFile, "--public-key", pub)
	if code != exitOK || !strings.Contains(out, " (tree sizes 5..12), then tollgate-2026+") {
		t.Fatalf("verify after the rotation: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "audit", "rotate", "--database", old.Path, "--signing-key", old.Keys.PrivateKeyFile, "--to", priv)
	if code != exitCheckFailed || !strings.Contains(errOut, "not the audit log's active signing key (tollgate-2026+") {
		t.Fatalf("rotating again from the retired key: exit %d\n%s%s", code, out, errOut)
	}

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"the same name again never overwrites", []string{"keygen", "--name", "tollgate-2026", "--out", dir}, exitUsage, "refusing to overwrite a key"},
		{"a name is required", []string{"keygen", "--out", dir}, exitUsage, "tollgate keygen: --name NAME is required\nusage: tollgate keygen"},
		{"rotate needs the new key", []string{"audit", "rotate", "--database", old.Path, "--signing-key", priv}, exitUsage, "--to FILE (the new signing key) is required"},
		{"a name a signature cannot carry", []string{"keygen", "--name", "bad+name", "--out", dir}, exitUsage, `key name "bad+name": use letters, digits`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("exit %d, want %d\n%s%s\nwant %q", code, tt.code, out, errOut, tt.want)
			}
		})
	}
}

func TestKeygenWritesAnAttestationKeyPair(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "keygen", "--attestation", "--name", "attest-2027", "--out", dir)
	priv, pub := filepath.Join(dir, "attestation-signing-attest-2027.key"), filepath.Join(dir, "attestation-signing-attest-2027.pub")
	if code != exitOK || !strings.Contains(out, "signing_key_file: "+priv) || !strings.Contains(out, "--retired-key OLD.pub@TIME") ||
		!strings.Contains(out, "previous_public_key_files: [OLD.pub@TIME]") || strings.Contains(out, "PRIVATE+KEY") {
		t.Fatalf("keygen --attestation: exit %d\n%s%s", code, out, errOut)
	}
	if st, err := os.Stat(priv); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v, mode %v; want 0600", err, st.Mode())
	}
	k, err := attest.LoadSigningKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := attest.LoadPublicKey(pub); err != nil || p.ID != k.ID() {
		t.Fatalf("public key %q for %q: %v", p.ID, k.ID(), err)
	}
	if code, _, errOut := runCLI(t, "keygen", "--attestation", "--name", "attest-2027", "--out", dir); code != exitUsage || !strings.Contains(errOut, "refusing to overwrite a key") {
		t.Fatalf("again: exit %d %s", code, errOut)
	}
}
