package store

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestDescribeHidesThePassword(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/var/lib/tollgate/tollgate.db", "/var/lib/tollgate/tollgate.db"},
		{"postgres://tollgate:s3cret@db.internal:5432/tollgate?sslmode=require", "postgres://tollgate:xxxxx@db.internal:5432/tollgate?sslmode=require"},
		{"postgresql://db.internal/tollgate?user=tg&password=s3cret", "postgresql://db.internal/tollgate?password=xxxxx&user=tg"},
		{"postgres://tollgate@db.internal/tollgate", "postgres://tollgate@db.internal/tollgate"},
		{"postgres://u:s3cret@[::1", "postgres://(a URL that does not parse)"},
	}
	for _, tt := range tests {
		if got := Describe(tt.in); got != tt.want {
			t.Errorf("Describe(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// A URL that cannot be used never shows up whole in the error, password and all.
func TestOpenPostgresErrorsHideThePassword(t *testing.T) {
	ctx := context.Background()
	for _, loc := range []string{
		"postgres://tollgate:s3cret@127.0.0.1:1/tollgate?sslmode=disable&connect_timeout=2",
		"postgres://tollgate:s3cret@127.0.0.1:5432/tollgate?sslmode=nonsense",
		"postgres://tollgate:s3cret@[::1",
	} {
		for name, open := range map[string]func() (*Store, error){
			"read-write": func() (*Store, error) { return Open(ctx, loc, Options{}) },
			"read-only":  func() (*Store, error) { return OpenReadOnly(ctx, loc) },
		} {
			s, err := open()
			if err == nil {
				s.Close()
				t.Fatalf("%s open of %s succeeded", name, loc)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("%s: error shows the password: %v", name, err)
			}
		}
	}
}

// TRUNCATE skips row triggers; on PostgreSQL the audit tables refuse it too.
func TestAuditTablesRefuseTruncate(t *testing.T) {
	storetest.RunOn(t, storetest.Postgres, testAuditTablesRefuseTruncate)
}

func testAuditTablesRefuseTruncate(t *testing.T) {
	s, _ := openTemp(t, Options{})
	for _, table := range []string{"audit_entries", "audit_checkpoints"} {
		if _, err := s.DB().Exec(`TRUNCATE ` + table); err == nil || !strings.Contains(err.Error(), "audit log is append-only") {
			t.Errorf("TRUNCATE %s: %v, want the append-only refusal", table, err)
		}
	}
}

func TestBackupRefusesPostgres(t *testing.T) {
	storetest.RunOn(t, storetest.Postgres, testBackupRefusesPostgres)
}

func testBackupRefusesPostgres(t *testing.T) {
	s, _ := openTemp(t, Options{})
	_, err := s.Backup(context.Background(), filepath.Join(t.TempDir(), "b.db"))
	if !errors.Is(err, ErrBackupPostgres) {
		t.Fatalf("Backup of a PostgreSQL store: %v", err)
	}
}
