package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/deploy/attest"
)

// loadFixture writes a config whose files live in a temp dir, with the
// given files created (name → contents) at mode 0600.
func loadFixture(t *testing.T, files map[string]string) (dir, path string) {
	t.Helper()
	t.Setenv("WEBHOOK_SECRET", "w")
	dir = t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	yaml := strings.NewReplacer(
		"/var/lib/tollgate/tollgate.db", "tollgate.db",
		"/etc/tollgate/", "",
	).Replace(production(
		"deployers: [backend]", "servers:", "  - host: p1.example.com", "    user: deploy", "ssh:",
		"  private_key_file: production.key", "  known_hosts_file: known_hosts", "path: /srv/api"))
	path = filepath.Join(dir, "tollgate.yml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

var allFiles = map[string]string{
	"audit.key": "audit", "app.pem": "pem", "staging.key": "staging-key", "production.key": "production-key", "known_hosts": "hosts",
}

func TestLoadWarnsAboutKeyFilesOthersCanRead(t *testing.T) {
	dir, path := loadFixture(t, allFiles)
	if _, warnings, err := Load(path); err != nil || len(warnings) != 0 {
		t.Fatalf("with 0600 keys: warnings %v, err %v; want none", warnings, err)
	}
	if err := os.Chmod(filepath.Join(dir, "production.key"), 0o640); err != nil {
		t.Fatal(err)
	}
	// known_hosts is public: its mode does not matter.
	if err := os.Chmod(filepath.Join(dir, "known_hosts"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, warnings, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "production.key")
	want := path + `:28: warning: repositories.acme/api.environments.production.ssh.private_key_file: key file "` + key +
		`" has mode 0640, accessible by group or others; run chmod 600 ` + key
	if len(warnings) != 1 || warnings[0].String() != want {
		t.Errorf("warnings = %v\nwant [%s]", warnings, want)
	}
}

func TestLoadReportsMissingFiles(t *testing.T) {
	files := map[string]string{"audit.key": "audit", "staging.key": "s", "known_hosts": "h"}
	dir, path := loadFixture(t, files)
	_, _, err := Load(path)
	var verr *ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("err = %v, want *ValidationError", err)
	}
	want := strings.Join([]string{
		path + `:7: github.private_key_file: file "` + filepath.Join(dir, "app.pem") + `" does not exist`,
		path + `:28: repositories.acme/api.environments.production.ssh.private_key_file: file "` + filepath.Join(dir, "production.key") + `" does not exist`,
	}, "\n")
	if err.Error() != want {
		t.Errorf("err:\n%v\nwant:\n%s", err, want)
	}
}

func TestLoadRequiresPreviousPublicKeyFiles(t *testing.T) {
	dir, path := loadFixture(t, allFiles)
	if err := os.WriteFile(filepath.Join(dir, "audit-2024.pub"), []byte("old-key+00000000+AAAA\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	yaml := strings.Replace(string(data), "  signing_key_file: audit.key",
		"  signing_key_file: audit.key\n  previous_public_key_files: [audit-2024.pub, audit-2025.pub]", 1)
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(path)
	want := path + `:5: audit.previous_public_key_files[1]: file "` + filepath.Join(dir, "audit-2025.pub") + `" does not exist`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "audit-2025.pub"), []byte("old-key+00000000+BBBB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, warnings, err := Load(path)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("with both files: warnings %v, err %v", warnings, err)
	}
	got := cfg.Audit.PreviousPublicKeyFiles
	if len(got) != 2 || got[0] != filepath.Join(dir, "audit-2024.pub") || got[1] != filepath.Join(dir, "audit-2025.pub") {
		t.Fatalf("previous public key files %q, want both, resolved next to the config", got)
	}
}

func TestLoadRefusesTheSameSSHKeyUnderTwoNames(t *testing.T) {
	files := map[string]string{"audit.key": "a", "app.pem": "p", "staging.key": "same-key\n", "production.key": "same-key", "known_hosts": "h"}
	dir, path := loadFixture(t, files)
	_, _, err := Load(path)
	want := path + `:28: repositories.acme/api.environments.production.ssh.private_key_file: SSH key file "` + filepath.Join(dir, "production.key") +
		`" holds the same key as "` + filepath.Join(dir, "staging.key") + `" used by acme/api/staging (line 19); each environment needs its own key`
	if err == nil || err.Error() != want {
		t.Errorf("err:\n%v\nwant:\n%s", err, want)
	}
}

func TestLoadRequiresTheDatabaseDirectory(t *testing.T) {
	dir, path := loadFixture(t, allFiles)
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, []byte(strings.Replace(string(data), "database: tollgate.db", "database: state/tollgate.db", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err := Load(path)
	want := path + `:2: database: directory "` + filepath.Join(dir, "state") + `" does not exist`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestLoadOfMissingConfigSaysWhich(t *testing.T) {
	_, _, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "nope.yml") {
		t.Errorf("err = %v, want a not-exist error naming the file", err)
	}
}

func TestLoadChecksTheAttestationKey(t *testing.T) {
	dir := t.TempDir()
	if _, err := attest.GenerateKeyFiles(filepath.Join(dir, "attest.key"), filepath.Join(dir, "attest.pub"), "tollgate-attestation"); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(filepath.Join(dir, "attest.key"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, key, file, want string // want "" loads
	}{
		{"a key of its own", string(good), "attest.key", ""},
		{"not a key", "hello\n", "attest.key", `:6: attestation.signing_key_file: file "DIR/attest.key": not a signed-note ed25519 private key (create one with tollgate keygen --attestation)`},
		{"the audit key file", string(good), "audit.key", `:6: attestation.signing_key_file: is the audit signing key "DIR/audit.key"; the attestation key must be its own`},
		{"the audit key's content", string(good), "attest.key", `:6: attestation.signing_key_file: file "DIR/attest.key" holds the audit signing key of "DIR/audit.key"`},
		{"missing", "", "nope.key", `:6: attestation.signing_key_file: file "DIR/nope.key" does not exist`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := map[string]string{"audit.key": "audit", "app.pem": "pem", "staging.key": "staging-key", "production.key": "production-key", "known_hosts": "hosts"}
			if tt.key != "" {
				files["attest.key"] = tt.key
			}
			if tt.name == "the audit key's content" || tt.name == "the audit key file" {
				files["audit.key"] = string(good)
			}
			dir, path := loadFixture(t, files)
			data, _ := os.ReadFile(path)
			yaml := strings.Replace(string(data), "github:", "attestation:\n  signing_key_file: "+tt.file+"\ngithub:", 1)
			if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, _, err := Load(path)
			if tt.want == "" {
				if err != nil || cfg.Attestation.SigningKeyFile != filepath.Join(dir, "attest.key") {
					t.Fatalf("err %v, key %q", err, cfg.Attestation.SigningKeyFile)
				}
				return
			}
			want := path + strings.ReplaceAll(tt.want, "DIR", dir)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("err:\n%v\nwant:\n%s", err, want)
			}
		})
	}
}
