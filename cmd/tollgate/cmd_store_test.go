package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestStoreMigrateToPostgres: `tollgate store migrate` moves a SQLite log
// to PostgreSQL; `tollgate verify` on the new database reports the same
// entries, root and checkpoints; a second run is refused.
func TestStoreMigrateToPostgres(t *testing.T) {
	f := audittest.Build(t, audittest.TamperSize, audittest.TamperEvery) // SQLite
	to := storetest.NewSchema(t, false)
	code, before, errOut := runCLI(t, "verify", "--database", f.Path, "--public-key", f.Keys.PublicKeyFile)
	if code != exitOK {
		t.Fatalf("verify the source: exit %d\n%s%s", code, before, errOut)
	}
	code, out, errOut := runCLI(t, "store", "migrate", "--from", f.Path, "--to", to, "--public-key", f.Keys.PublicKeyFile)
	if code != exitOK {
		t.Fatalf("store migrate: exit %d\n%s%s", code, out, errOut)
	}
	root := lineWith(t, before, "root:")
	for _, want := range []string{
		"audit_entries        251 rows, the same on both sides\n",
		"audit_checkpoints    2 rows, the same on both sides\n",
		"audit log:       251 entries, root " + strings.TrimSpace(strings.TrimPrefix(root, "root:")) + " on both sides\n",
		root, "checkpoints:     2, every signature valid for key test-key\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("store migrate output lacks %q:\n%s", want, out)
		}
	}
	code, after, errOut := runCLI(t, "verify", "--database", to, "--public-key", f.Keys.PublicKeyFile)
	if code != exitOK {
		t.Fatalf("verify the copy: exit %d\n%s%s", code, after, errOut)
	}
	// The same report but for the database line.
	if cut := func(s string) string { return s[strings.Index(s, "\n")+1:] }; cut(after) != cut(before) {
		t.Errorf("verify on PostgreSQL:\n%s\nwant as on SQLite:\n%s", after, before)
	}
	code, out, errOut = runCLI(t, "store", "migrate", "--from", f.Path, "--to", to)
	if code != exitCheckFailed || !strings.Contains(errOut, "the target database is not empty") {
		t.Fatalf("second migrate: exit %d\n%s%s", code, out, errOut)
	}
}

func TestStoreMigrateUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "x.db")
	for _, args := range [][]string{
		{"store"}, {"store", "copy"}, {"store", "migrate", "--from", db}, {"store", "migrate", "--to", db},
		{"store", "migrate", "--from", db, "--to", db + "2", "--public-key", db},
	} {
		if code, out, errOut := runCLI(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s%s", args, code, exitUsage, out, errOut)
		}
	}
}

// A PostgreSQL password never reaches the output, even when the copy fails.
func TestStoreMigrateHidesThePassword(t *testing.T) {
	f := audittest.Build(t, 3, 0)
	to := "postgres://tollgate:hunter2@127.0.0.1:1/tollgate?sslmode=disable&connect_timeout=2"
	code, out, errOut := runCLI(t, "store", "migrate", "--from", f.Path, "--to", to)
	if code != exitCheckFailed || strings.Contains(out+errOut, "hunter2") || !strings.Contains(errOut, "tollgate:xxxxx@127.0.0.1:1") {
		t.Fatalf("exit %d, output:\n%s%s", code, out, errOut)
	}
}

func lineWith(t *testing.T, s, prefix string) string {
	t.Helper()
	for _, l := range strings.SplitAfter(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no line starting %q in:\n%s", prefix, s)
	return ""
}
