package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

func TestBackupCommand(t *testing.T) {
	tests := []struct {
		name     string
		tamper   bool
		withKey  bool
		wantCode int
		wantOut  []string
	}{
		{name: "verified copy", withKey: true, wantCode: exitOK,
			wantOut: []string{"wrote ", "audit log of the copy: OK, 30 entries, 3 signed checkpoints (key test-key)"}},
		{name: "no key: copy written, verification suggested", wantCode: exitOK,
			wantOut: []string{"wrote ", "audit log not verified", "tollgate verify --database "}},
		{name: "tampered source: the copy fails verification", tamper: true, withKey: true, wantCode: exitCheckFailed,
			wantOut: []string{"audit log of the copy: FAIL: entry seq"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := audittest.Build(t, 30, 10)
			if tc.tamper {
				db := audittest.OpenRaw(t, f.Path)
				audittest.DropTriggers(t, db)
				audittest.Exec(t, db, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = 4`)
			}
			out := filepath.Join(t.TempDir(), "copy.db")
			args := []string{"backup", "--database", f.Path, "--out", out}
			if tc.withKey {
				args = append(args, "--public-key", f.Keys.PublicKeyFile)
			}
			code, stdout, stderr := runCLI(t, args...)
			if code != tc.wantCode {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.wantCode, stdout, stderr)
			}
			for _, want := range tc.wantOut {
				if !strings.Contains(stdout, want) {
					t.Errorf("output lacks %q:\n%s", want, stdout)
				}
			}
			if tc.wantCode != exitOK {
				return
			}
			// The auditor's check of the copy, with the public key alone.
			code, vout, verr := runCLI(t, "verify", "--database", out, "--public-key", f.Keys.PublicKeyFile)
			if code != exitOK || !strings.Contains(vout, "entries:         30\n") {
				t.Fatalf("verify of the backup: exit %d\n%s%s", code, vout, verr)
			}
		})
	}
}

func TestBackupCommandRefusals(t *testing.T) {
	f := audittest.Build(t, 3, 2)
	existing := filepath.Join(t.TempDir(), "existing.db")
	if err := os.WriteFile(existing, []byte("an older backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no --out", []string{"backup", "--database", f.Path}, "usage: tollgate backup"},
		{"no database", []string{"backup", "--out", filepath.Join(t.TempDir(), "x.db")}, "no database"},
		{"existing target", []string{"backup", "--database", f.Path, "--out", existing}, "refusing to overwrite"},
		{"missing database", []string{"backup", "--database", filepath.Join(t.TempDir(), "none.db"), "--out", filepath.Join(t.TempDir(), "x.db")}, "tollgate backup:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.args...)
			if code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s%s", code, exitUsage, stdout, stderr)
			}
			if !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("stderr lacks %q:\n%s", tc.wantErr, stderr)
			}
		})
	}
	if b, _ := os.ReadFile(existing); string(b) != "an older backup" {
		t.Errorf("existing backup changed to %q", b)
	}
}
