package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

func TestVerifyAndCheckProofAcrossAKeyRotation(t *testing.T) {
	// Checkpoints by old-key at 10, 20, 25 (shutdown), the handover at seq 25,
	// then by new-key at 26, 30, 40, 46.
	rot := audittest.BuildRotated(t, 25, 20, 10)
	oldPub, newPub := rot.Old.PublicKeyFile, rot.New.PublicKeyFile
	oldID, newID := audit.Keyring{rot.Old.Verifier}.String(), audit.Keyring{rot.New.Verifier}.String()

	proof := filepath.Join(t.TempDir(), "proof.txt")
	code, out, errOut := runCLI(t, "audit", "prove", "3", "--database", rot.Path)
	if code != exitOK {
		t.Fatalf("audit prove: exit %d\n%s%s", code, out, errOut)
	}
	if err := os.WriteFile(proof, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := writeTestConfig(t, audittest.Fixture{Path: rot.Path, Keys: rot.New})
	withPrevious := filepath.Join(filepath.Dir(cfg), "rotated.yml")
	data, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(string(data), "  checkpoint_every: 10\n", "  checkpoint_every: 10\n  previous_public_key_files: ["+oldPub+"]\n", 1)
	if err := os.WriteFile(withPrevious, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}

	bothKeys := "checkpoints:     7, every signature valid for keys " + oldID + " (tree sizes 10..25), then " + newID + " (tree sizes 26..46)\n"
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"verify with both public keys", []string{"verify", "--database", rot.Path, "--public-key", oldPub, "--public-key", newPub}, exitOK, bothKeys},
		{"verify with the config and previous_public_key_files", []string{"verify", "--config", withPrevious}, exitOK, bothKeys},
		{"verify with the new key only", []string{"verify", "--database", rot.Path, "--public-key", newPub}, exitCheckFailed,
			"FAIL: checkpoint 1 (tree size 10): not signed by key " + newID + " (signatures: " + oldID + ")\n"},
		{"verify with a config that forgot the old key", []string{"verify", "--config", cfg}, exitCheckFailed,
			"FAIL: checkpoint 1 (tree size 10): not signed by key " + newID},
		{"check-proof with both keys", []string{"audit", "check-proof", proof, "--public-key", oldPub, "--public-key", newPub}, exitOK,
			"is in the audit log of 46 entries signed by new-key at "},
		{"check-proof with the old key only", []string{"audit", "check-proof", proof, "--public-key", oldPub}, exitCheckFailed,
			"FAIL: proof checkpoint: not signed by key " + oldID},
		{"a missing second key is a usage error", []string{"verify", "--database", rot.Path, "--public-key", newPub, "--public-key", oldPub + ".missing"}, exitUsage,
			"read audit public key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("exit %d, want %d; output:\n%s%s\nwant it to contain %q", code, tt.code, out, errOut, tt.want)
			}
		})
	}
}

func TestEvidenceAcrossAKeyRotation(t *testing.T) {
	rot := audittest.BuildRotated(t, 25, 20, 10)
	oldPub, newPub := rot.Old.PublicKeyFile, rot.New.PublicKeyFile
	pack := filepath.Join(t.TempDir(), "pack")
	// The keys in any order: the signer's own is found among them.
	code, out, errOut := runCLI(t, "evidence", "--database", rot.Path, "--signing-key", rot.New.PrivateKeyFile,
		"--public-key", oldPub, "--public-key", newPub, "--from", "2025-03-01", "--to", "2025-03-02", "--out", pack)
	if code != exitOK || !strings.Contains(out, "audit log verified: yes") {
		t.Fatalf("evidence: exit %d\n%s%s", code, out, errOut)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"verify the pack with both keys", []string{"evidence", "verify", pack, "--public-key", oldPub, "--public-key", newPub}, exitOK,
			"OK: audit.jsonl: 46 entries, 46 proven in the audit log of 46 entries signed by new-key at "},
		{"verify the pack with the old key only", []string{"evidence", "verify", pack, "--public-key", oldPub}, exitCheckFailed,
			"FAIL: MANIFEST: signature does not verify with key old-key+"},
		{"a pack signed by a key not listed is refused before writing", []string{"evidence", "--database", rot.Path, "--signing-key", rot.New.PrivateKeyFile,
			"--public-key", oldPub, "--from", "2025-03-01", "--to", "2025-03-02", "--out", filepath.Join(t.TempDir(), "p")}, exitUsage, "not a pair"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("exit %d, want %d; output:\n%s%s\nwant it to contain %q", code, tt.code, out, errOut, tt.want)
			}
		})
	}
}
