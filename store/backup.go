package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mattn/go-sqlite3"
)

// ErrBackupPostgres is returned by Backup on a PostgreSQL store: its
// backups are PostgreSQL's (pg_dump, base backups, the provider's
// snapshots), and `tollgate store migrate` copies it to a SQLite file.
var ErrBackupPostgres = errors.New("the database is PostgreSQL: back it up with pg_dump or your provider's backups, or copy it to a SQLite file with `tollgate store migrate`")

// BackupResult describes a finished backup.
type BackupResult struct {
	Path  string // the backup file
	Pages int    // database pages copied
	Bytes int64  // size of the backup file
}

// Backup writes a consistent copy of the open database to dstPath with
// SQLite's online backup API, while other connections (a running
// `tollgate serve`) keep writing: the copy is one read transaction's
// snapshot, so it holds every committed transaction up to a point and none
// after it. The copy is a single self-contained file (rollback journal, no
// -wal beside it), mode 0600, checked with PRAGMA integrity_check before it
// appears at dstPath. Backup never overwrites: an existing dstPath is an
// error wrapping fs.ErrExist.
func (s *Store) Backup(ctx context.Context, dstPath string) (res BackupResult, err error) {
	fail := func(what string, err error) (BackupResult, error) {
		return BackupResult{}, fmt.Errorf("back up to %s: %s: %w", dstPath, what, err)
	}
	if s.dialect.postgres {
		return fail("not a SQLite database", ErrBackupPostgres)
	}
	if _, err := os.Lstat(dstPath); err == nil {
		return fail("refusing to overwrite", fs.ErrExist)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail("check the target", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dstPath), "."+filepath.Base(dstPath)+".partial-*")
	if err != nil {
		return fail("create the file", err)
	}
	tmpPath := tmp.Name()
	tmp.Close()
	defer func() {
		if err != nil {
			os.Remove(tmpPath)
			os.Remove(tmpPath + "-journal")
		}
	}()

	pages, err := s.copyInto(ctx, tmpPath)
	if err != nil {
		return fail("copy", err)
	}
	if err := syncFile(tmpPath); err != nil {
		return fail("sync", err)
	}
	// A hard link appears atomically and fails if dstPath appeared meanwhile.
	if err := os.Link(tmpPath, dstPath); err != nil {
		return fail("publish", err)
	}
	os.Remove(tmpPath)
	if err := syncFile(filepath.Dir(dstPath)); err != nil {
		return fail("sync the directory", err)
	}
	st, err := os.Stat(dstPath)
	if err != nil {
		return fail("stat", err)
	}
	return BackupResult{Path: dstPath, Pages: pages, Bytes: st.Size()}, nil
}

// copyInto runs the online backup from this store's database into the
// (empty) database file at path, then makes the copy self-contained and
// checks it.
func (s *Store) copyInto(ctx context.Context, path string) (pages int, err error) {
	dst, err := sql.Open("sqlite3", fmt.Sprintf("file:%s?_busy_timeout=%d", escapePath(path), busyTimeoutMS))
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
	}()
	dstConn, err := dst.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("open the copy: %w", err)
	}
	defer dstConn.Close()
	srcConn, err := s.db.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("open the database: %w", err)
	}
	defer srcConn.Close()

	err = dstConn.Raw(func(d any) error {
		return srcConn.Raw(func(sc any) error {
			dc, ok1 := d.(*sqlite3.SQLiteConn)
			src, ok2 := sc.(*sqlite3.SQLiteConn)
			if !ok1 || !ok2 {
				return fmt.Errorf("driver connections are %T and %T, not sqlite3", d, sc)
			}
			b, err := dc.Backup("main", src, "main")
			if err != nil {
				return err
			}
			// All pages in one step: one read transaction on the source, so
			// the copy is a snapshot and a busy writer cannot make the
			// backup restart forever. In WAL mode it does not block writers.
			if _, err := b.Step(-1); err != nil {
				b.Close()
				return err
			}
			pages = b.PageCount()
			return b.Finish()
		})
	})
	if err != nil {
		return 0, err
	}
	// The copy carries the source's WAL flag; switch it back to a rollback
	// journal so the backup is one file that opens read-only anywhere.
	var mode string
	if err := dstConn.QueryRowContext(ctx, `PRAGMA journal_mode=DELETE`).Scan(&mode); err != nil {
		return 0, fmt.Errorf("set the copy's journal mode: %w", err)
	}
	var check string
	if err := dstConn.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check); err != nil {
		return 0, fmt.Errorf("check the copy: %w", err)
	}
	if check != "ok" {
		return 0, fmt.Errorf("the copy fails integrity_check: %s", check)
	}
	return pages, nil
}

// syncFile flushes a file or directory to stable storage.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	serr := f.Sync()
	if cerr := f.Close(); serr == nil {
		serr = cerr
	}
	return serr
}
