// Package store keeps Tollgate's state in one database, a SQLite file (the
// embedded default) or PostgreSQL (for several processes sharing it):
// schema migrations, the webhook inbox, the domain tables and the audit log
// (store/audit).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	// The SQLite driver registers itself as "sqlite3".
	_ "github.com/mattn/go-sqlite3"
	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// Options configures Open. The zero value opens a store whose audit log
// writes no checkpoints; `tollgate serve` always passes a Signer.
type Options struct {
	// Signer signs audit checkpoints (note.NewSigner over the key file written
	// by `tollgate init`). Nil disables checkpoints.
	Signer note.Signer
	// CheckpointEvery writes a signed checkpoint inside the appending
	// transaction whenever the log size crosses a multiple of it. 0 means only
	// on demand (Log.Checkpoint). Requires Signer.
	CheckpointEvery int
	// Now is the clock for audit timestamps and the inbox; nil means time.Now.
	Now func() time.Time
	// InboxLease is how long ClaimDue reserves an item for one worker; an item
	// whose worker died becomes due again when its lease runs out. 0 means 2 minutes.
	InboxLease time.Duration
	// Synchronous is SQLite's synchronous setting: "FULL" (default, a commit
	// survives power loss) or "NORMAL" (faster in WAL mode; a commit survives
	// a process crash but may be lost on power failure). "OFF" is for test
	// fixtures and bulk loads only. On PostgreSQL "OFF" turns
	// synchronous_commit off for the store's sessions; the others keep the
	// server's setting (on by default: a commit is flushed to the WAL).
	Synchronous string
	// Replica is the id of the serving process this store belongs to
	// (server/replica.go): inbox leases, outbox claims and running deploys
	// are recorded under it, so other replicas can take them over when it
	// dies. "" for tools and tests that serve nothing.
	Replica string
}

// Store is an open Tollgate database.
type Store struct {
	db       *sql.DB
	audit    *audit.Log
	now      func() time.Time
	lease    time.Duration
	readOnly bool
	dialect  dialect
	replica  string           // Options.Replica
	wall     func() time.Time // judges leases and liveness (replicas.go); time.Now
	location string           // where Open found the database (Listen connects there too)
	// writeMu queues this process's writers on SQLite so they wait on a
	// mutex rather than spin in its busy handler; other processes still
	// meet busy_timeout. PostgreSQL writers run concurrently.
	writeMu sync.Mutex
	// pendingWakes holds the wake-ups each open WithTx transaction asked
	// for, sent once it commits (see wake).
	wakeMu       sync.Mutex
	pendingWakes map[*sql.Tx][]string
	// linkLookups groups concurrent identity lookups on PostgreSQL.
	linkLookups linkLookups
}

// busyTimeoutMS is how long a writer waits for another connection's write lock.
const busyTimeoutMS = 10000

// Open opens the database at location, applies pending migrations and
// refuses a schema newer than this binary knows. location is a SQLite file
// path (created if needed) or a postgres:// URL (see IsPostgres), whose
// database must exist; the tables are created in its current schema.
func Open(ctx context.Context, location string, opts Options) (*Store, error) {
	name := Describe(location)
	if opts.CheckpointEvery < 0 {
		return nil, fmt.Errorf("open store %s: checkpoint interval %d is negative", name, opts.CheckpointEvery)
	}
	if opts.CheckpointEvery > 0 && opts.Signer == nil {
		return nil, fmt.Errorf("open store %s: checkpoint interval %d needs a signing key", name, opts.CheckpointEvery)
	}
	syncMode := strings.ToUpper(opts.Synchronous)
	switch syncMode {
	case "":
		syncMode = "FULL"
	case "FULL", "NORMAL", "OFF":
	default:
		return nil, fmt.Errorf("open store %s: unknown synchronous mode %q (want FULL or NORMAL)", name, opts.Synchronous)
	}
	d := sqliteDialect
	var db *sql.DB
	var err error
	if IsPostgres(location) {
		d = postgresDialect
		db, err = openPostgres(ctx, location, false, syncMode == "OFF")
	} else {
		if err := prepareSQLiteFile(location); err != nil {
			return nil, fmt.Errorf("open store %s: %w", name, err)
		}
		dsn := fmt.Sprintf("file:%s?_journal_mode=WAL&_busy_timeout=%d&_foreign_keys=on&_txlock=immediate&_synchronous=%s",
			escapePath(location), busyTimeoutMS, syncMode)
		db, err = sql.Open("sqlite3", dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", name, err)
	}
	s := newStore(db, opts, false, d)
	s.location = location
	if err := migrate(ctx, db, d); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", name, err)
	}
	// A retired key, or a new one before its rotation, must not sign.
	if err := s.audit.CheckSigner(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s: %w", name, err)
	}
	return s, nil
}

// OpenReadOnly opens an existing database without writing to it: no
// migrations, no journal-mode change, every statement refused if it would
// write (on PostgreSQL every transaction is READ ONLY). This is how an
// auditor's copy is read (`tollgate verify`).
func OpenReadOnly(ctx context.Context, location string) (*Store, error) {
	name := Describe(location)
	d := sqliteDialect
	var db *sql.DB
	var err error
	if IsPostgres(location) {
		d = postgresDialect
		db, err = openPostgres(ctx, location, true, false)
	} else {
		db, err = sql.Open("sqlite3", fmt.Sprintf("file:%s?mode=ro&_busy_timeout=%d&_query_only=1", escapePath(location), busyTimeoutMS))
	}
	if err != nil {
		return nil, fmt.Errorf("open store %s read-only: %w", name, err)
	}
	if err := checkSchemaReadable(ctx, db, d); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %s read-only: %w", name, err)
	}
	return newStore(db, Options{}, true, d), nil
}

func newStore(db *sql.DB, opts Options, readOnly bool, d dialect) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	lease := opts.InboxLease
	if lease <= 0 {
		lease = 2 * time.Minute
	}
	s := &Store{db: db, now: now, lease: lease, readOnly: readOnly, dialect: d, replica: opts.Replica, wall: time.Now}
	s.linkLookups.s = s
	var sequencer func(context.Context, *sql.Tx, bool) (audit.Head, error)
	var insertIfHead func(context.Context, *sql.Tx, int64, []byte, []any) (bool, error)
	if d.postgres {
		sequencer, insertIfHead = lockAudit, insertAuditIfHead
	}
	s.audit = audit.New(db, audit.Options{
		Signer:          opts.Signer,
		CheckpointEvery: opts.CheckpointEvery,
		Now:             now,
		RunTx:           s.WithTx,
		Sequencer:       sequencer,
		InsertIfHead:    insertIfHead,
	})
	return s
}

// statements is the part of *sql.DB and *sql.Tx that runs statements.
type statements interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// oneStatement runs fn, whose writing is one statement, as a transaction
// of its own. On PostgreSQL it runs on the pool: a statement outside a
// transaction is one, durable when it returns, and costs one round trip
// rather than three with BEGIN and COMMIT. On SQLite it runs in WithTx,
// which takes the store's write lock first. Reads fn makes after the
// statement (an error's details) see the committed state on PostgreSQL.
func (s *Store) oneStatement(ctx context.Context, fn func(q statements) error) error {
	if !s.dialect.postgres {
		return s.WithTx(ctx, func(tx *sql.Tx) error { return fn(tx) })
	}
	if s.readOnly {
		return ErrReadOnly
	}
	return fn(s.db)
}

// escapePath keeps characters that mean something in a SQLite URI filename
// from being read as its query or fragment.
func escapePath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

// DB returns the underlying database handle, for reads and for packages that
// keep their own tables in this database. Its statements take `?`
// placeholders on both engines.
func (s *Store) DB() *sql.DB { return s.db }

// Audit returns the audit log kept in this database.
func (s *Store) Audit() *audit.Log { return s.audit }

// Engine names the database engine: "SQLite" or "PostgreSQL".
func (s *Store) Engine() string { return s.dialect.name }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// ErrReadOnly is returned by writes on a store opened with OpenReadOnly.
var ErrReadOnly = errors.New("store is open read-only")

// WithTx runs fn in one write transaction and commits if fn returns nil.
// An error or a panic in fn rolls everything back, including audit entries
// appended in it. On SQLite the transaction is BEGIN IMMEDIATE, so it holds
// the write lock from the start; on PostgreSQL it is READ COMMITTED, and
// the store's statements lock what they change (row locks, FOR UPDATE, the
// audit sequencer). WithTx must not be nested.
func (s *Store) WithTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	if s.readOnly {
		return ErrReadOnly
	}
	if !s.dialect.postgres {
		s.writeMu.Lock()
		defer s.writeMu.Unlock()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	committed := false
	defer func() {
		wakes := s.takeWakes(tx)
		s.audit.TxEnded(tx, committed)
		if !committed {
			_ = tx.Rollback()
			return
		}
		s.sendWakes(ctx, wakes)
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit transaction: %w", err)
	}
	committed = true
	return nil
}
