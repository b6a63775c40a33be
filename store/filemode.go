package store

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Modes of the SQLite database's files and of a data directory Open
// creates: the database holds the audit log, requests and identity links,
// for the service's user only, whatever the process umask (systemd's unit
// sets UMask=0077; Docker and a manual `serve` usually run with 0022).
const (
	DatabaseFileMode = 0o600
	DataDirMode      = 0o700
)

// sqliteSidecars are the files SQLite keeps beside the database in WAL mode.
var sqliteSidecars = []string{"-wal", "-shm", "-journal"}

// prepareSQLiteFile creates the database's directory (0700) when it is
// missing and the database file itself (0600) before SQLite opens it, so
// SQLite, which gives its -wal and -shm files the database file's mode,
// never creates anything with the umask's mode. An existing database file
// or sidecar that group or others can read is narrowed to 0600: the docs
// promise it, and an install that ran without a umask must not stay open.
// An existing directory is left alone (it may be the working directory);
// `tollgate doctor` reports one that others can read.
func prepareSQLiteFile(path string) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, DataDirMode); err != nil {
			return fmt.Errorf("create data directory %s: %w", dir, err)
		}
		// MkdirAll's mode passes through the umask; this one does not.
		if err := os.Chmod(dir, DataDirMode); err != nil {
			return fmt.Errorf("restrict data directory %s: %w", dir, err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, DatabaseFileMode)
	switch {
	case err == nil:
		// An empty file is an empty SQLite database.
		cerr := f.Chmod(DatabaseFileMode)
		if err := errors.Join(cerr, f.Close()); err != nil {
			return fmt.Errorf("create database file %s: %w", path, err)
		}
	case !errors.Is(err, fs.ErrExist):
		return fmt.Errorf("create database file %s: %w", path, err)
	}
	for _, p := range append([]string{path}, sidecarPaths(path)...) {
		if err := narrowMode(p); err != nil {
			return err
		}
	}
	return nil
}

// sidecarPaths are the -wal, -shm and -journal files of the database at path.
func sidecarPaths(path string) []string {
	out := make([]string, len(sqliteSidecars))
	for i, s := range sqliteSidecars {
		out[i] = path + s
	}
	return out
}

// narrowMode makes an existing regular file that group or others can
// read or write 0600; a missing file is fine.
func narrowMode(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check mode of %s: %w", path, err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if err := os.Chmod(path, DatabaseFileMode); err != nil {
		return fmt.Errorf("restrict %s to mode %04o: %w", path, DatabaseFileMode, err)
	}
	return nil
}

// SQLiteFiles returns the database file at path and those of its sidecars
// that exist, for checks of their modes (`tollgate doctor`).
func SQLiteFiles(path string) []string {
	out := []string{path}
	for _, p := range sidecarPaths(path) {
		if _, err := os.Lstat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}
