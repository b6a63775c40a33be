//go:build unix

package store

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
)

// withUmask runs the rest of the test under umask mask (Docker's and a
// login shell's 0022), restoring the old one afterwards. The umask is the
// process's: tests using it must not run in parallel.
func withUmask(t *testing.T, mask int) {
	t.Helper()
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

func modeOf(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

// TestOpenCreatesDatabaseFilesOwnerOnly: under umask 0022 (Docker, a manual
// `serve`), a new database, its -wal and -shm, and a data directory Open
// creates are readable by the owner only. Fails before this change: the
// files were 0644, and a missing directory was an error.
func TestOpenCreatesDatabaseFilesOwnerOnly(t *testing.T) {
	for _, tc := range []struct {
		name   string
		subdir string // under a temp dir; "" uses the temp dir itself
	}{
		{"in an existing directory", ""},
		{"in a directory Open creates", filepath.Join("var", "lib", "tollgate")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withUmask(t, 0o022)
			ctx := context.Background()
			dir := filepath.Join(t.TempDir(), tc.subdir)
			path := filepath.Join(dir, "tollgate.db")
			s, err := Open(ctx, path, Options{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			// A write, so the -wal and -shm files exist.
			if err := s.AppendAudit(ctx, bot.AuditEvent{Actor: "test", Action: "test.mode", Subject: "db"}); err != nil {
				t.Fatal(err)
			}
			files := SQLiteFiles(path)
			if len(files) < 3 {
				t.Fatalf("want the database, -wal and -shm; have %v", files)
			}
			for _, f := range files {
				if m := modeOf(t, f); m != DatabaseFileMode {
					t.Errorf("%s has mode %04o, want %04o", filepath.Base(f), m, DatabaseFileMode)
				}
			}
			if m := modeOf(t, dir); tc.subdir != "" && m != DataDirMode {
				t.Errorf("data directory has mode %04o, want %04o", m, DataDirMode)
			}
		})
	}
}

// TestOpenNarrowsAnExistingWorldReadableDatabase: a database written by an
// earlier version without a umask (0644, its -wal too) is 0600 once opened.
func TestOpenNarrowsAnExistingWorldReadableDatabase(t *testing.T) {
	withUmask(t, 0o022)
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "tollgate.db")
	s, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, bot.AuditEvent{Actor: "test", Action: "test.mode", Subject: "db"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, f := range SQLiteFiles(path) {
		if err := os.Chmod(f, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, f := range SQLiteFiles(path) {
		if m := modeOf(t, f); m != DatabaseFileMode {
			t.Errorf("%s has mode %04o after reopening, want %04o", filepath.Base(f), m, DatabaseFileMode)
		}
	}
	if m := modeOf(t, dir); m != 0o700 && m != 0o755 {
		t.Errorf("an existing directory changed mode to %04o", m)
	}
}
