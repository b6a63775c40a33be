package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// openTemp opens a new store on the engine of t (storetest.Run) and
// returns it with its location, to open it again.
func openTemp(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	path := storetest.Location(t)
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestMigrationsAppliedOnce(t *testing.T) { storetest.Run(t, testMigrationsAppliedOnce) }

func testMigrationsAppliedOnce(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{})
	ms, err := loadMigrations()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for i := 0; i < 2; i++ { // reopening applies nothing again
		s2, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		var n, distinct int
		if err := s2.DB().QueryRowContext(ctx, `SELECT count(*), count(DISTINCT version) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
			t.Fatal(err)
		}
		s2.Close()
		if n != len(ms) || distinct != len(ms) {
			t.Fatalf("schema_migrations has %d rows (%d distinct), want %d", n, distinct, len(ms))
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) { storetest.Run(t, testNewerSchemaRefused) }

func testNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{})
	ms, _ := loadMigrations()
	known := ms[len(ms)-1].version
	newer := known + 2
	if _, err := s.DB().ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, 'from_the_future', '2099-01-01T00:00:00Z')`, newer); err != nil {
		t.Fatal(err)
	}
	s.Close()

	want := "database schema version " + itoa(newer) + " is newer than this tollgate (knows up to " + itoa(known) + "); upgrade tollgate"
	for name, open := range map[string]func() (*Store, error){
		"read-write": func() (*Store, error) { return Open(ctx, path, Options{}) },
		"read-only":  func() (*Store, error) { return OpenReadOnly(ctx, path) },
	} {
		t.Run(name, func(t *testing.T) {
			s2, err := open()
			if err == nil {
				s2.Close()
				t.Fatal("opened a database with a newer schema")
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not say %q", err, want)
			}
		})
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestAuditTablesRefuseUpdateAndDelete(t *testing.T) {
	storetest.Run(t, testAuditTablesRefuseUpdateAndDelete)
}

func testAuditTablesRefuseUpdateAndDelete(t *testing.T) {
	ctx := context.Background()
	signer, _ := testKeys(t)
	s, _ := openTemp(t, Options{Signer: signer, CheckpointEvery: 1})
	if err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := s.Audit().Append(ctx, tx, audit.Event{Actor: "alice", Action: "test.event", Subject: "x/1", Data: map[string]int{"n": 1}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_entries SET actor = 'mallory'`,
		`DELETE FROM audit_entries`,
		`UPDATE audit_checkpoints SET tree_size = 5`,
		`DELETE FROM audit_checkpoints`,
	} {
		t.Run(stmt, func(t *testing.T) {
			_, err := s.DB().ExecContext(ctx, stmt)
			if err == nil || !strings.Contains(err.Error(), "audit log is append-only") {
				t.Fatalf("%s: err = %v, want the append-only refusal", stmt, err)
			}
		})
	}
}

func TestWithTxFailsClosed(t *testing.T) { storetest.Run(t, testWithTxFailsClosed) }

func testWithTxFailsClosed(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	if _, err := s.DB().ExecContext(ctx, `CREATE TABLE widgets (name TEXT)`); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		ev   audit.Event
	}{
		{name: "event without actor", ev: audit.Event{Action: "widget.created", Subject: "widget/1"}},
		{name: "data that is not JSON", ev: audit.Event{Actor: "alice", Action: "widget.created", Data: func() {}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.WithTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO widgets (name) VALUES ('w1')`); err != nil {
					return err
				}
				_, err := s.Audit().Append(ctx, tx, tt.ev)
				return err
			})
			if err == nil {
				t.Fatal("WithTx succeeded although the audit append failed")
			}
			var n int
			if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM widgets`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("the state change was committed without its audit entry (%d widgets)", n)
			}
		})
	}
}

func TestWithTxRollsBackOnPanic(t *testing.T) { storetest.Run(t, testWithTxRollsBackOnPanic) }

func testWithTxRollsBackOnPanic(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("panic was swallowed")
			}
		}()
		_ = s.WithTx(ctx, func(tx *sql.Tx) error {
			if _, err := s.Audit().Append(ctx, tx, audit.Event{Actor: "alice", Action: "boom"}); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	n, err := s.Audit().Size(ctx)
	if err != nil || n != 0 {
		t.Fatalf("size after panic = %d, %v; want 0", n, err)
	}
	// The write lock was released: another transaction goes through.
	if err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := s.Audit().Append(ctx, tx, audit.Event{Actor: "alice", Action: "after"})
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

func TestReadOnlyStoreRefusesWrites(t *testing.T) { storetest.Run(t, testReadOnlyStoreRefusesWrites) }

func testReadOnlyStoreRefusesWrites(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{})
	s.Close()
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.WithTx(ctx, func(*sql.Tx) error { return nil }); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("WithTx on read-only store: %v", err)
	}
	if _, err := ro.DB().ExecContext(ctx, `INSERT INTO schema_migrations VALUES (999, 'x', 'y')`); err == nil {
		t.Fatal("raw insert through a read-only store succeeded")
	}
}

func TestOpenReadOnlyRefusesNonTollgateFile(t *testing.T) {
	storetest.Run(t, testOpenReadOnlyRefusesNonTollgateFile)
}

func testOpenReadOnlyRefusesNonTollgateFile(t *testing.T) {
	path := storetest.Location(t)
	db, err := OpenDB(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := OpenReadOnly(context.Background(), path); err == nil || !strings.Contains(err.Error(), "not a tollgate database") {
		t.Fatalf("err = %v", err)
	}
}
