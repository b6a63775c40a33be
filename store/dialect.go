package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// dialect holds what differs between the two engines. Everything else is
// one SQL string, written with `?` placeholders (rebound on PostgreSQL, see
// rebind) in SQL both engines accept: upserts are INSERT … ON CONFLICT …
// DO UPDATE/NOTHING, DELETE … RETURNING reads what it removed.
type dialect struct {
	name     string // for messages: "SQLite" or "PostgreSQL"
	postgres bool
	// migrations is the embedded directory holding this engine's migrations.
	migrations string
	// forUpdate ends a SELECT of rows the transaction is about to rewrite.
	// On PostgreSQL it locks them (FOR UPDATE), so concurrent
	// read-modify-writes from several processes queue up the way SQLite's
	// single writer (BEGIN IMMEDIATE) makes them queue; SQLite needs nothing.
	forUpdate string
}

var (
	sqliteDialect   = dialect{name: "SQLite", migrations: "migrations"}
	postgresDialect = dialect{name: "PostgreSQL", postgres: true, migrations: "migrations/postgres", forUpdate: " FOR UPDATE"}
)

// Advisory lock keys on PostgreSQL: a Tollgate namespace in the high 32
// bits and, in the low 32, the OID of the object the lock protects, so two
// Tollgate schemas in one database never wait for each other.
const (
	lockSpaceMigrations = 0x54474d00 // "TGM\0": the schema, while migrations run
	lockSpaceAudit      = 0x54474100 // "TGA\0": the audit log, while an append runs
)

// lockMigrations makes concurrent Opens of one database take turns applying
// migrations. SQLite's BEGIN IMMEDIATE already does; on PostgreSQL the
// transaction takes an advisory lock on the current schema.
func (d dialect) lockMigrations(ctx context.Context, tx *sql.Tx) error {
	if !d.postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, fmt.Sprintf(`SELECT pg_advisory_xact_lock((%d::bigint << 32) |
		coalesce((SELECT oid FROM pg_namespace WHERE nspname = current_schema()), 0)::bigint)`, lockSpaceMigrations))
	if err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	return nil
}

// lockAudit is the audit log's sequencer on PostgreSQL (audit.Options.Sequencer):
// audit_sequence (migration 0001) takes a transaction-scoped advisory lock,
// held from the first append to commit, so appends from every process take
// turns, seq has no gaps and each entry's stored tree hashes extend the
// tree its predecessor committed; then, with the lock held, it reads the
// log's size and the stored hashes the append needs, in the same round trip.
func lockAudit(ctx context.Context, tx *sql.Tx) (audit.Head, error) {
	rows, err := tx.QueryContext(ctx, `SELECT size, entry_seq, entry_leaf_hash, entry_tree_hashes FROM audit_sequence(?)`, int64(lockSpaceAudit))
	if err != nil {
		return audit.Head{}, fmt.Errorf("take the audit sequencer lock: %w", err)
	}
	defer rows.Close()
	var h audit.Head
	for rows.Next() {
		var seq sql.NullInt64
		var row audit.StoredHashes
		if err := rows.Scan(&h.Size, &seq, &row.LeafHash, &row.TreeHashes); err != nil {
			return audit.Head{}, fmt.Errorf("read the audit log's head: %w", err)
		}
		if seq.Valid {
			row.Seq = seq.Int64
			h.Hashes = append(h.Hashes, row)
		}
	}
	if err := rows.Err(); err != nil {
		return audit.Head{}, fmt.Errorf("read the audit log's head: %w", err)
	}
	return h, nil
}

// tableExists reports whether the current schema has a table of that name.
func (d dialect) tableExists(ctx context.Context, q queryer, name string) (bool, error) {
	query := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if d.postgres {
		query = `SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?`
	}
	var n int
	if err := q.QueryRowContext(ctx, query, name).Scan(&n); err != nil {
		return false, fmt.Errorf("look for table %s: %w", name, err)
	}
	return n > 0, nil
}

// isUniqueViolation reports whether err is a unique or primary key
// constraint refusing a row, on either engine.
func isUniqueViolation(err error) bool {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return se.Code == sqlite3.ErrConstraint &&
			(se.ExtendedCode == sqlite3.ErrConstraintUnique || se.ExtendedCode == sqlite3.ErrConstraintPrimaryKey)
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" // unique_violation
}

// upsert returns INSERT INTO table (columns) VALUES (?, …) ON CONFLICT
// (key) DO UPDATE SET every other column to the new row's value: SQLite's
// INSERT OR REPLACE in SQL both engines accept, except that the row is
// updated in place rather than deleted and inserted again, so it keeps its
// rowid (insertion order). columns is a comma-separated list.
func upsert(table, columns, key string) string {
	cols := strings.Split(columns, ",")
	keys := map[string]bool{}
	for _, k := range strings.Split(key, ",") {
		keys[strings.TrimSpace(k)] = true
	}
	var set []string
	for i, c := range cols {
		c = strings.TrimSpace(c)
		cols[i] = c
		if !keys[c] {
			set = append(set, c+" = excluded."+c)
		}
	}
	return `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(cols)-1) +
		`) ON CONFLICT (` + key + `) DO UPDATE SET ` + strings.Join(set, ", ")
}
