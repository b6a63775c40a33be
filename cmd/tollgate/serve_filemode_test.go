//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tollgate-dev/tollgate/store"
)

// TestServeCreatesItsDatabaseOwnerOnly (issue 15 item 7): `tollgate serve`
// started as Docker and a shell start it, under umask 0022, creates its
// database, -wal and -shm 0600 (the config requires the state directory
// to exist; the store's test covers a directory it creates). Fails before
// this change: the files were 0644.
func TestServeCreatesItsDatabaseOwnerOnly(t *testing.T) {
	old := syscall.Umask(0o022)
	t.Cleanup(func() { syscall.Umask(old) })
	e := newE2E(t, e2eOptions{})
	cfg := readTestFile(t, e.configPath)
	writeTestFile(t, e.configPath, strings.Replace(cfg, "database: tollgate.db", "database: state/tollgate.db", 1))
	dbPath := filepath.Join(e.dir, "state", "tollgate.db")
	if err := os.Mkdir(filepath.Dir(dbPath), 0o755); err != nil {
		t.Fatal(err)
	}
	e.start(t)
	if code := e.sendMerge(t, "6c0f1d6e-0000-4000-8000-0000000000a7"); code != 202 {
		t.Fatalf("merge webhook answered %d", code)
	}
	files := store.SQLiteFiles(dbPath)
	if len(files) < 3 {
		t.Fatalf("want the database with its -wal and -shm while serving, have %v", files)
	}
	for _, f := range files {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := st.Mode().Perm(); m != store.DatabaseFileMode {
			t.Errorf("%s has mode %04o, want 0600", filepath.Base(f), m)
		}
	}
	if code := e.stop(t); code != exitOK {
		t.Fatalf("serve exit %d\n%s", code, e.stderr)
	}
}
