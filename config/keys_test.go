package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// withPreviousAttestationKeys appends an attestation section (from line
// 22 of baseConfig) listing items under previous_public_key_files, one a
// line from line 24.
func withPreviousAttestationKeys(items ...string) string {
	return baseConfig + "attestation:\n  previous_public_key_files:\n    - " + strings.Join(items, "\n    - ") + "\n"
}

// Each rotated-out attestation key is a plain path (no retirement time,
// as before) or PATH@TIME, the form of `attest verify --retired-key`;
// paths resolve next to the config and times are kept in UTC.
func TestParseAttestationPreviousKeysWithRetirementTimes(t *testing.T) {
	cfg, warnings := mustParse(t, "/etc/tollgate/tollgate.yml", withPreviousAttestationKeys(
		"keys/attest-2024.pub",
		"keys/attest-2025.pub@2026-03-01T00:00:00Z",
		"/srv/keys@v2/attest-2026.pub@2026-09-15T12:30:00+02:00", // the last @ separates
		"attest-2027.pub@2027-01-15",
	), testEnv)
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	want := []PreviousKey{
		{File: "/etc/tollgate/keys/attest-2024.pub"},
		{File: "/etc/tollgate/keys/attest-2025.pub", RetiredAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{File: "/srv/keys@v2/attest-2026.pub", RetiredAt: time.Date(2026, 9, 15, 10, 30, 0, 0, time.UTC)},
		{File: "/etc/tollgate/attest-2027.pub", RetiredAt: time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)},
	}
	got := cfg.Attestation.PreviousPublicKeys
	if len(got) != len(want) {
		t.Fatalf("previous keys %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i].File != want[i].File || !got[i].RetiredAt.Equal(want[i].RetiredAt) || got[i].RetiredAt.Location() != time.UTC {
			t.Errorf("previous key %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// A retirement time that does not parse is an error on its line, naming
// the key as written; nothing is trusted without it.
func TestParseRejectsABadRetirementTime(t *testing.T) {
	tests := []struct{ name, item, want string }{
		{"an hour out of range", "keys/attest-2025.pub@2026-03-01T25:00:00Z",
			`tollgate.yml:25: attestation.previous_public_key_files[1]: key "keys/attest-2025.pub@2026-03-01T25:00:00Z": retirement time "2026-03-01T25:00:00Z" is neither RFC 3339 nor YYYY-MM-DD: write PATH or PATH@TIME, e.g. keys/attest-2025.pub@2026-03-01T00:00:00Z`},
		{"a time without a zone", "keys/attest-2025.pub@2026-03-01T00:00:00",
			`tollgate.yml:25: attestation.previous_public_key_files[1]: key "keys/attest-2025.pub@2026-03-01T00:00:00": retirement time "2026-03-01T00:00:00" is neither RFC 3339 nor YYYY-MM-DD: write PATH or PATH@TIME, e.g. keys/attest-2025.pub@2026-03-01T00:00:00Z`},
		{"a time and no file", `"@2026-03-01T00:00:00Z"`,
			`tollgate.yml:25: attestation.previous_public_key_files[1]: key "@2026-03-01T00:00:00Z": "@2026-03-01T00:00:00Z" names no key file before its retirement time: write PATH or PATH@TIME, e.g. keys/attest-2025.pub@2026-03-01T00:00:00Z`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := Parse("tollgate.yml", []byte(withPreviousAttestationKeys("keys/attest-2024.pub", tc.item)), testEnv)
			if err == nil || cfg != nil {
				t.Fatalf("Parse accepted it: %+v", cfg.Attestation)
			}
			if err.Error() != tc.want {
				t.Errorf("error:\n got: %s\nwant: %s", err, tc.want)
			}
		})
	}
}

// The retirement time reaches the keys the deployment pages and drift
// checks verify with (AttestationKeys), each on its own key.
func TestAttestationKeysCarryTheRetirementTime(t *testing.T) {
	dir, path := loadFixture(t, allFiles)
	for _, name := range []string{"attest", "attest-2024", "attest-2025"} {
		if _, err := attest.GenerateKeyFiles(filepath.Join(dir, name+".key"), filepath.Join(dir, name+".pub"), "tollgate-"+name); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(dir, "audit.key")); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.GenerateKeyFiles(filepath.Join(dir, "audit.key"), filepath.Join(dir, "audit.pub"), "tollgate-audit"); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	yaml := strings.Replace(string(data), "github:", "attestation:\n  signing_key_file: attest.key\n"+
		"  previous_public_key_files: [attest-2024.pub, attest-2025.pub@2026-03-01T00:00:00Z]\ngithub:", 1)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, _, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := cfg.AttestationKeys()
	if err != nil {
		t.Fatal(err)
	}
	a := keys.Attestation
	if len(a) != 3 || !strings.HasPrefix(a[0].ID, "tollgate-attest+") || !strings.HasPrefix(a[1].ID, "tollgate-attest-2024+") ||
		!strings.HasPrefix(a[2].ID, "tollgate-attest-2025+") {
		t.Fatalf("keys %+v: want the signing key's, then both rotated out, in order", a)
	}
	if !a[0].RetiredAt.IsZero() || !a[1].RetiredAt.IsZero() || !a[2].RetiredAt.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("retirement times %v, %v, %v: want none, none, 2026-03-01", a[0].RetiredAt, a[1].RetiredAt, a[2].RetiredAt)
	}
}
