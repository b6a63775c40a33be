package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

// writeTestConfig writes a valid tollgate.yml for fixture f that names only
// the signing key, so the public key is derived from it.
func writeTestConfig(t *testing.T, f audittest.Fixture) string {
	t.Helper()
	keys, err := filepath.Abs("../../testdata/example-keys")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(f.Keys.PrivateKeyFile) // beside the database, when it is a file
	for _, k := range []string{"github-app.pem", "staging_ed25519", "known_hosts_staging"} {
		b, err := os.ReadFile(filepath.Join(keys, k))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, k), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	database := filepath.Base(f.Path)
	if store.IsPostgres(f.Path) {
		database = strconv.Quote(f.Path)
	}
	cfg := fmt.Sprintf(`listen: ":8080"
public_url: https://tollgate.example.com
database: %s
audit:
  signing_key_file: %s
  checkpoint_every: 10
  retention_days: 400
github:
  app_id: 1
  private_key_file: github-app.pem
  webhook_secret: test-secret
  oauth_client_id: test-client
  oauth_client_secret: test-client-secret
  org: acme
repositories:
  acme/api:
    environments:
      staging:
        deployers: [backend]
        branches: [main]
        servers:
          - host: staging.example.com
            user: deploy
        ssh:
          private_key_file: staging_ed25519
          known_hosts_file: known_hosts_staging
        path: /srv/api
`, database, filepath.Base(f.Keys.PrivateKeyFile))
	path := filepath.Join(dir, "tollgate.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAuditTailAndShow(t *testing.T) {
	f := audittest.Build(t, 12, 5)
	code, out, errOut := runCLI(t, "audit", "tail", "-n", "3", "--database", f.Path)
	if code != exitOK {
		t.Fatalf("tail: exit %d %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "9\t2025-03-01T09:00:") || !strings.Contains(lines[0], "Z\tuser4\trequest.approved\trequest/9\t{") || !strings.HasPrefix(lines[2], "11\t") {
		t.Fatalf("tail output:\n%s", out)
	}
	code, out, errOut = runCLI(t, "audit", "show", "7", "--database", f.Path)
	if code != exitOK || !strings.Contains(out, "seq:       7\n") || !strings.Contains(out, "subject:   request/7\n") ||
		!strings.Contains(out, `data:      {"approvals":["alice","bob"],"environment":"production","sha":"0000000000000000000000000000000000000007"}`) {
		t.Fatalf("show: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut = runCLI(t, "audit", "show", "99", "--database", f.Path); code != exitCheckFailed || !strings.Contains(errOut, "audit entry seq 99: audit entry not found") {
		t.Fatalf("show missing: exit %d %s", code, errOut)
	}
}

func TestAuditProveCheckProofRoundTrip(t *testing.T) {
	f := audittest.Build(t, audittest.TamperSize, audittest.TamperEvery)
	dir := t.TempDir()
	prove := func(t *testing.T, seq string) string {
		t.Helper()
		code, out, errOut := runCLI(t, "audit", "prove", seq, "--database", f.Path)
		if code != exitOK {
			t.Fatalf("prove %s: exit %d %s", seq, code, errOut)
		}
		path := filepath.Join(dir, "proof-"+seq+".txt")
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	check := func(t *testing.T, proof, key string) (int, string) {
		t.Helper()
		code, out, errOut := runCLI(t, "audit", "check-proof", proof, "--public-key", key)
		return code, out + errOut
	}
	for _, seq := range []string{"0", "42", "199"} {
		t.Run("seq "+seq, func(t *testing.T) {
			code, out := check(t, prove(t, seq), f.Keys.PublicKeyFile)
			if code != exitOK || !strings.Contains(out, "OK: entry seq "+seq+" (request.approved by ") || !strings.Contains(out, "in the audit log of 200 entries signed by test-key") {
				t.Fatalf("check-proof: exit %d\n%s", code, out)
			}
		})
	}

	proof42, err := os.ReadFile(prove(t, "42"))
	if err != nil {
		t.Fatal(err)
	}
	other := audittest.NewKeys(t, t.TempDir(), audittest.KeyName)
	edits := []struct {
		name    string
		edit    func(string) string
		key     string
		wantOut string
	}{
		{"data changed", func(s string) string {
			return strings.Replace(s, `"approvals":["alice","bob"]`, `"approvals":["alice"]`, 1)
		},
			f.Keys.PublicKeyFile, "FAIL: entry seq 42 is not in the tree of size 200"},
		{"actor changed", func(s string) string { return strings.Replace(s, `actor "user2"`, `actor "mallory"`, 1) },
			f.Keys.PublicKeyFile, "FAIL: entry seq 42 is not in the tree"},
		{"seq changed", func(s string) string { return strings.Replace(s, "seq 42\n", "seq 43\n", 1) },
			f.Keys.PublicKeyFile, "FAIL: entry seq 43 is not in the tree"},
		{"checkpoint size changed", func(s string) string { return strings.Replace(s, "\n200\n", "\n201\n", 1) },
			f.Keys.PublicKeyFile, "FAIL: proof checkpoint: signature check failed"},
		{"another key", func(s string) string { return s }, other.PublicKeyFile, "FAIL: proof checkpoint: not signed by key test-key+"},
		{"truncated", func(s string) string { return s[:len(s)/2] }, f.Keys.PublicKeyFile, "FAIL: "},
	}
	for _, e := range edits {
		t.Run(e.name, func(t *testing.T) {
			path := filepath.Join(dir, "edited.txt")
			if err := os.WriteFile(path, []byte(e.edit(string(proof42))), 0o644); err != nil {
				t.Fatal(err)
			}
			code, out := check(t, path, e.key)
			if code != exitCheckFailed || !strings.Contains(out, e.wantOut) {
				t.Fatalf("exit %d, want 1 with %q:\n%s", code, e.wantOut, out)
			}
		})
	}

	t.Run("proof from a database whose entry was changed", func(t *testing.T) {
		db := audittest.OpenRaw(t, f.Path)
		audittest.DropTriggers(t, db)
		audittest.Exec(t, db, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = 42`)
		audittest.Rehash(t, db) // the attacker makes every stored hash fit again
		db.Close()
		code, out := check(t, prove(t, "42"), f.Keys.PublicKeyFile)
		if code != exitCheckFailed || !strings.Contains(out, "FAIL: entry seq 42 is not in the tree of size 200") {
			t.Fatalf("exit %d:\n%s", code, out)
		}
	})

	t.Run("entry after the last checkpoint", func(t *testing.T) {
		code, out, errOut := runCLI(t, "audit", "prove", "230", "--database", f.Path)
		if code != exitCheckFailed || !strings.Contains(errOut, "no signed checkpoint covers this entry yet (the latest covers seq 0..199)") {
			t.Fatalf("exit %d\n%s%s", code, out, errOut)
		}
	})
}

func TestAuditUsage(t *testing.T) {
	for _, args := range [][]string{{"audit"}, {"audit", "frobnicate"}, {"audit", "show"}, {"audit", "prove", "x", "--database", "db"}, {"audit", "check-proof", "p.txt"}} {
		if code, _, _ := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
}
