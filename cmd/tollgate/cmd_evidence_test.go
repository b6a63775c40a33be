package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
)

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := dispatch(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestEvidenceCommandWritesAPackThatVerifies(t *testing.T) {
	h := evidencetest.Build(t, 40, 11)
	pack := filepath.Join(t.TempDir(), "pack")
	from, to := h.From.Format("2006-01-02"), h.To.AddDate(0, 0, -1).Format("2006-01-02")
	code, out, errOut := run(t, "evidence", "--database", h.DBPath, "--signing-key", h.Keys.PrivateKeyFile,
		"--from", from, "--to", to, "--sample", "3", "--seed", "9", "--out", pack)
	if code != exitOK || !strings.Contains(out, "reconciled: yes; audit log verified: yes") {
		t.Fatalf("evidence exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}

	code, out, _ = run(t, "evidence", "verify", pack, "--public-key", h.Keys.PublicKeyFile)
	if code != exitOK || !strings.Contains(out, "OK: audit.jsonl") {
		t.Fatalf("evidence verify exit %d: %s", code, out)
	}

	proofs, _ := filepath.Glob(filepath.Join(pack, "sample", "*", "audit", "*.proof"))
	if len(proofs) == 0 {
		t.Fatal("no proofs in the sample")
	}
	for _, p := range proofs[:3] {
		if code, out, errOut := run(t, "audit", "check-proof", p, "--public-key", h.Keys.PublicKeyFile); code != exitOK {
			t.Fatalf("check-proof %s: exit %d %s %s", p, code, out, errOut)
		}
	}

	csv := filepath.Join(pack, "approvals.csv")
	b, _ := os.ReadFile(csv)
	os.WriteFile(csv, bytes.Replace(b, []byte("true"), []byte("false"), 1), 0o644)
	code, out, _ = run(t, "evidence", "verify", pack, "--public-key", h.Keys.PublicKeyFile)
	if code != exitCheckFailed || !strings.Contains(out, "FAIL: approvals.csv: SHA-256") {
		t.Fatalf("edited pack: exit %d: %s", code, out)
	}
}

func TestEvidenceCommandUsage(t *testing.T) {
	h := evidencetest.Build(t, 5, 1)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no range", []string{"evidence", "--database", h.DBPath, "--signing-key", h.Keys.PrivateKeyFile, "--out", t.TempDir()}, "--from"},
		{"range backwards", []string{"evidence", "--database", h.DBPath, "--signing-key", h.Keys.PrivateKeyFile,
			"--from", "2025-03-10", "--to", "2025-03-01", "--out", t.TempDir()}, "not before"},
		{"no signing key", []string{"evidence", "--database", h.DBPath, "--public-key", h.Keys.PublicKeyFile,
			"--from", "2025-03-01", "--to", "2025-03-10", "--out", t.TempDir()}, "MANIFEST is signed"},
		{"keys not a pair", []string{"evidence", "--database", h.DBPath, "--signing-key", h.Keys.PrivateKeyFile,
			"--public-key", otherPublicKey(t), "--from", "2025-03-01", "--to", "2025-03-10", "--out", t.TempDir()}, "not a pair"},
		{"verify without key", []string{"evidence", "verify", t.TempDir()}, "usage"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := run(t, tt.args...)
			if code != exitUsage || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %q, want 2 and %q", code, errOut, tt.want)
			}
		})
	}
}

func otherPublicKey(t *testing.T) string {
	h := evidencetest.Build(t, 1, 2)
	return h.Keys.PublicKeyFile
}

func TestAuditExportAndVerifyExport(t *testing.T) {
	h := evidencetest.Build(t, 30, 4)
	dir := filepath.Join(t.TempDir(), "export")
	code, out, errOut := run(t, "audit", "export", "--database", h.DBPath, "--signing-key", h.Keys.PrivateKeyFile,
		"--from", h.From.Format("2006-01-02"), "--to", h.To.Format("2006-01-02"), "--segment-entries", "40", "--out", dir)
	if code != exitOK || !strings.Contains(out, "segments") {
		t.Fatalf("audit export exit %d: %s %s", code, out, errOut)
	}
	code, out, _ = run(t, "audit", "verify-export", dir, "--public-key", h.Keys.PublicKeyFile)
	if code != exitOK || strings.Count(out, "OK: segment-") < 2 {
		t.Fatalf("verify-export exit %d: %s", code, out)
	}
}

func TestAuditHashMatchesTheStoredHMAC(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "hmac.key")
	key, _, err := store.EnsureHMACKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run(t, "audit", "hash", "ghp_leakedtoken123", "--hmac-key", keyFile)
	if code != exitOK || strings.TrimSpace(out) != store.HashValue(key, "ghp_leakedtoken123") {
		t.Fatalf("audit hash exit %d: %q %q", code, out, errOut)
	}
	if code, _, errOut := run(t, "audit", "hash", "x"); code != exitUsage || !strings.Contains(errOut, "no HMAC key") {
		t.Fatalf("audit hash without key: exit %d %q", code, errOut)
	}
}

func TestEvidenceVerifyPrintsTheSignedFilters(t *testing.T) {
	h := evidencetest.Build(t, 40, 11)
	from, to := h.From.Format("2006-01-02"), h.To.AddDate(0, 0, -1).Format("2006-01-02")
	tests := []struct {
		name    string
		filters []string
		want    []string
	}{
		{"the whole range", nil, []string{"(end excluded); all repositories, all environments)\n"}},
		{"one repository and environment", []string{"--repo", evidencetest.Repo, "--env", "production"}, []string{
			`(end excluded); repository "acme/shop", environment "production")` + "\n",
			`NOTE: a filtered pack (repository "acme/shop", environment "production"): it holds only those changes`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pack := filepath.Join(t.TempDir(), "pack")
			args := append([]string{"evidence", "--database", h.DBPath, "--signing-key", h.Keys.PrivateKeyFile,
				"--from", from, "--to", to, "--out", pack}, tt.filters...)
			if code, out, errOut := run(t, args...); code != exitOK {
				t.Fatalf("evidence exit %d\n%s%s", code, out, errOut)
			}
			code, out, _ := run(t, "evidence", "verify", pack, "--public-key", h.Keys.PublicKeyFile)
			if code != exitOK {
				t.Fatalf("evidence verify exit %d: %s", code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if len(tt.filters) == 0 && strings.Contains(out, "NOTE: a filtered pack") {
				t.Errorf("the whole range reads as filtered:\n%s", out)
			}
		})
	}
}
