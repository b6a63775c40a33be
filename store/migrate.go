package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema, one file per step, named NNNN_name.sql:
// SQLite's in migrations/, PostgreSQL's twins (same numbers and names) in
// migrations/postgres/. Numbers only grow; gaps are allowed so packages can
// reserve ranges.
//
//go:embed migrations/*.sql migrations/postgres/*.sql
var migrationFiles embed.FS

// migration is one numbered schema step.
type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads and orders the embedded SQLite migrations.
func loadMigrations() ([]migration, error) {
	return parseMigrations(migrationFiles, sqliteDialect.migrations)
}

// loadMigrationsFor reads and orders d's migrations. PostgreSQL's must
// twin SQLite's one for one: a database must not silently lack a step.
func loadMigrationsFor(d dialect) ([]migration, error) {
	ms, err := parseMigrations(migrationFiles, d.migrations)
	if err != nil || !d.postgres {
		return ms, err
	}
	base, err := loadMigrations()
	if err != nil {
		return nil, err
	}
	if err := twinProblems(base, ms); err != nil {
		return nil, err
	}
	return ms, nil
}

// twinProblems names every SQLite migration without a PostgreSQL twin of
// the same number and name, and every PostgreSQL one without a SQLite one.
func twinProblems(sqlite, postgres []migration) error {
	byVersion := func(ms []migration) map[int]string {
		out := map[int]string{}
		for _, m := range ms {
			out[m.version] = m.name
		}
		return out
	}
	s, p := byVersion(sqlite), byVersion(postgres)
	var problems []string
	for _, m := range sqlite {
		switch name, ok := p[m.version]; {
		case !ok:
			problems = append(problems, fmt.Sprintf("store/migrations/%04d_%s.sql has no PostgreSQL twin: write store/migrations/postgres/%04d_%s.sql", m.version, m.name, m.version, m.name))
		case name != m.name:
			problems = append(problems, fmt.Sprintf("migration %04d is %q for SQLite but %q for PostgreSQL", m.version, m.name, name))
		}
	}
	for _, m := range postgres {
		if _, ok := s[m.version]; !ok {
			problems = append(problems, fmt.Sprintf("store/migrations/postgres/%04d_%s.sql has no SQLite twin in store/migrations/", m.version, m.name))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("migrations differ between SQLite and PostgreSQL:\n  %s", strings.Join(problems, "\n  "))
	}
	return nil
}

func parseMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, rest, ok := strings.Cut(strings.TrimSuffix(name, ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 || rest == "" {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", name)
		}
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migration %s: version %d already used by %s", name, v, prev)
		}
		seen[v] = name
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", name, err)
		}
		out = append(out, migration{version: v, name: rest, sql: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	name       TEXT NOT NULL,
	applied_at TEXT NOT NULL
)`

// migrate applies every migration not yet recorded, each in its own
// transaction together with its schema_migrations row, so a crash leaves
// either the whole step or none of it. Each transaction holds the
// dialect's migration lock, so processes opening one database together
// take turns and every step is applied once.
func migrate(ctx context.Context, db *sql.DB, d dialect) error {
	ms, err := loadMigrationsFor(d)
	if err != nil {
		return err
	}
	if err := inMigrationTx(ctx, db, d, "create schema_migrations", func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, createMigrationsTable)
		return err
	}); err != nil {
		return err
	}
	known := ms[len(ms)-1].version
	for _, m := range ms {
		if err := applyMigration(ctx, db, d, m, known); err != nil {
			return err
		}
	}
	// A database migrated by a newer binary is refused even when every step
	// this binary knows is present.
	return checkVersion(ctx, db, known)
}

// inMigrationTx runs fn in a transaction holding the migration lock.
func inMigrationTx(ctx context.Context, db *sql.DB, d dialect, what string, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil) // SQLite: BEGIN IMMEDIATE, so concurrent Opens take turns
	if err != nil {
		return fmt.Errorf("%s: begin: %w", what, err)
	}
	defer tx.Rollback()
	if err := d.lockMigrations(ctx, tx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := fn(tx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: commit: %w", what, err)
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, d dialect, m migration, known int) error {
	return inMigrationTx(ctx, db, d, fmt.Sprintf("migration %04d_%s", m.version, m.name), func(tx *sql.Tx) error {
		if err := checkVersion(ctx, tx, known); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
			m.version, m.name, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			return fmt.Errorf("record: %w", err)
		}
		return nil
	})
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkVersion refuses a database whose schema is newer than this binary.
func checkVersion(ctx context.Context, q queryer, known int) error {
	var maxVersion sql.NullInt64
	if err := q.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&maxVersion); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if maxVersion.Valid && maxVersion.Int64 > int64(known) {
		return fmt.Errorf("database schema version %d is newer than this tollgate (knows up to %d); upgrade tollgate", maxVersion.Int64, known)
	}
	return nil
}

// checkSchemaReadable is the read-only counterpart of migrate: it applies
// nothing, and refuses a database that has no Tollgate schema or a newer one.
func checkSchemaReadable(ctx context.Context, db *sql.DB, d dialect) error {
	ms, err := loadMigrationsFor(d)
	if err != nil {
		return err
	}
	ok, err := d.tableExists(ctx, db, "schema_migrations")
	if err != nil {
		return fmt.Errorf("read schema: %w", err)
	}
	if !ok {
		return fmt.Errorf("not a tollgate database (no schema_migrations table)")
	}
	return checkVersion(ctx, db, ms[len(ms)-1].version)
}
