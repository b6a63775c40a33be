package store_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

// TestBackupWhileWriting backs up a database that another connection pool
// (as `tollgate serve` in another process) keeps appending to. Every copy
// must be a self-contained file whose audit log verifies, holding a prefix
// of what the writer committed.
func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	keys := audittest.NewKeys(t, dir, audittest.KeyName)
	dbPath := filepath.Join(dir, "tollgate.db")
	ctx := context.Background()
	writer, err := store.Open(ctx, dbPath, store.Options{Signer: keys.Signer, CheckpointEvery: 7, Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	appendOne := func(i int) error {
		return writer.WithTx(ctx, func(tx *sql.Tx) error {
			_, err := writer.Audit().Append(ctx, tx, audittest.Event(i))
			return err
		})
	}
	for i := 0; i < 20; i++ { // something to copy before the race starts
		if err := appendOne(i); err != nil {
			t.Fatal(err)
		}
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	var written int
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 20; ; i++ {
			select {
			case <-stop:
				written = i
				return
			default:
			}
			if err := appendOne(i); err != nil {
				writeErr = err
				return
			}
		}
	}()

	reader, err := store.OpenReadOnly(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var copies []string
	for i := range 3 {
		out := filepath.Join(dir, "backup-"+string(rune('a'+i))+".db")
		res, err := reader.Backup(ctx, out)
		if err != nil {
			t.Fatalf("backup %d: %v", i, err)
		}
		if res.Path != out || res.Pages == 0 || res.Bytes == 0 {
			t.Errorf("backup %d result = %+v", i, res)
		}
		copies = append(copies, out)
		time.Sleep(20 * time.Millisecond) // let the writer get further between copies
	}
	close(stop)
	wg.Wait()
	if writeErr != nil {
		t.Fatalf("the writer failed during the backups: %v", writeErr)
	}

	var last int64
	for _, c := range copies {
		st, err := os.Stat(c)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", c, st.Mode().Perm())
		}
		for _, side := range []string{"-wal", "-shm", "-journal"} {
			if _, err := os.Stat(c + side); err == nil {
				t.Errorf("%s%s exists: the backup is not one self-contained file", c, side)
			}
		}
		copyStore, err := store.OpenReadOnly(ctx, c)
		if err != nil {
			t.Fatalf("open %s: %v", c, err)
		}
		r, err := audit.Verify(ctx, copyStore.DB(), keys.Verifier)
		copyStore.Close()
		if err != nil {
			t.Fatalf("verify %s: %v", c, err)
		}
		if !r.OK {
			t.Fatalf("verify %s: %s", c, r.Problem)
		}
		if r.Size < 20 || r.Size > int64(written) || r.Size < last {
			t.Errorf("%s holds %d entries; want between %d and %d, growing", c, r.Size, max(20, last), written)
		}
		t.Logf("%s: %d entries verified (writer reached %d)", filepath.Base(c), r.Size, written)
		last = r.Size
	}
	if matches, _ := filepath.Glob(filepath.Join(dir, ".backup-*")); len(matches) != 0 {
		t.Errorf("temporary files left behind: %v", matches)
	}
}

func TestBackupRefusesToOverwrite(t *testing.T) {
	fx := audittest.Build(t, 5, 2)
	ctx := context.Background()
	s, err := store.OpenReadOnly(ctx, fx.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := filepath.Join(t.TempDir(), "existing.db")
	if err := os.WriteFile(out, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = s.Backup(ctx, out)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("backup over an existing file: err = %v, want fs.ErrExist", err)
	}
	if b, _ := os.ReadFile(out); string(b) != "keep me" {
		t.Errorf("the existing file was changed to %q", b)
	}
	if _, err := s.Backup(ctx, filepath.Join(t.TempDir(), "no-such-dir", "x.db")); err == nil {
		t.Error("backup into a missing directory succeeded")
	}
}
