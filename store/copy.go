package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// ErrTargetNotEmpty is returned by Copy when the target database already
// holds Tollgate data: a copy never merges into, or overwrites, a log.
var ErrTargetNotEmpty = errors.New("the target database is not empty")

// CopyOptions configures Copy.
type CopyOptions struct {
	// Verifiers, if any, are the trusted audit keys: the copied log is then
	// verified (audit.Verify) on the target as well.
	Verifiers []note.Verifier
}

// CopyReport says what Copy moved and how it checked the result.
type CopyReport struct {
	Tables []TableCopy // in copy order
	// AuditSize and AuditRoot are the log's size and tree root, the same
	// on both databases.
	AuditSize int64
	AuditRoot tlog.Hash
	// Verify is audit.Verify's report on the target (Verified: it ran).
	Verify   audit.Report
	Verified bool
}

// TableCopy is one table copied: its rows, the same in number and
// content (an order-independent digest of every row) on both sides.
type TableCopy struct {
	Name string
	Rows int64
}

// Copy copies every Tollgate table from the database at from to the
// empty database at to (locations as for Open: a SQLite file, a
// postgres:// URL), which is how an install moves from SQLite to
// PostgreSQL (`tollgate store migrate`), or a PostgreSQL log is handed to
// an auditor as a file. The source is read in one snapshot (a running
// `tollgate serve` may keep writing; what it writes later is not copied)
// and migrated first if its schema is older than this binary's; the
// target is migrated, must hold no row in any table, and is written in
// one transaction. Rows are copied as stored (the audit log's leaves, tree
// hashes and signed checkpoints byte for byte), and then compared table
// by table; the audit log's size and root must match on both sides.
func Copy(ctx context.Context, from, to string, opts CopyOptions) (CopyReport, error) {
	var rep CopyReport
	if from == to {
		return rep, fmt.Errorf("copy %s: the source and the target are the same database", Describe(from))
	}
	src, err := openCopySource(ctx, from)
	if err != nil {
		return rep, err
	}
	defer src.Close()
	dst, err := Open(ctx, to, Options{})
	if err != nil {
		return rep, fmt.Errorf("copy to %s: %w", Describe(to), err)
	}
	defer dst.Close()
	fail := func(err error) (CopyReport, error) {
		return CopyReport{}, fmt.Errorf("copy %s to %s: %w", Describe(from), Describe(to), err)
	}
	tables, err := copyPlan(ctx, src, dst)
	if err != nil {
		return fail(err)
	}
	digests, err := copyRows(ctx, src, dst, tables)
	if err != nil {
		return fail(err)
	}
	for i, t := range tables {
		got, err := tableDigest(ctx, dst.db, t)
		if err != nil {
			return fail(fmt.Errorf("read back %s: %w", t.name, err))
		}
		if got != digests[i] {
			return fail(fmt.Errorf("table %s differs after the copy: %d rows read, %d written", t.name, digests[i].rows, got.rows))
		}
		rep.Tables = append(rep.Tables, TableCopy{Name: t.name, Rows: got.rows})
	}
	if rep.AuditSize, rep.AuditRoot, err = sameAuditTree(ctx, src, dst); err != nil {
		return fail(err)
	}
	if len(opts.Verifiers) > 0 {
		if rep.Verify, err = audit.Verify(ctx, dst.db, opts.Verifiers...); err != nil {
			return fail(fmt.Errorf("verify the copied audit log: %w", err))
		}
		rep.Verified = true
	}
	return rep, nil
}

// openCopySource opens the source read-only, first migrating it when its
// schema is older than this binary's. A missing file or a database
// without Tollgate's schema is refused, never created.
func openCopySource(ctx context.Context, from string) (*Store, error) {
	if !IsPostgres(from) {
		if _, err := os.Stat(from); err != nil {
			return nil, fmt.Errorf("copy from %s: %w", from, err)
		}
	}
	src, err := OpenReadOnly(ctx, from)
	if err != nil {
		return nil, fmt.Errorf("copy from %s: %w", Describe(from), err)
	}
	ms, err := loadMigrationsFor(src.dialect)
	if err != nil {
		src.Close()
		return nil, err
	}
	var version int
	if err := src.db.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations`).Scan(&version); err != nil {
		src.Close()
		return nil, fmt.Errorf("copy from %s: read schema version: %w", Describe(from), err)
	}
	if version == ms[len(ms)-1].version {
		return src, nil
	}
	src.Close()
	migrated, err := Open(ctx, from, Options{})
	if err != nil {
		return nil, fmt.Errorf("copy from %s: migrate it first: %w", Describe(from), err)
	}
	migrated.Close()
	return OpenReadOnly(ctx, from)
}

// copyRows reads every table of src in one snapshot and writes it to dst
// in one transaction, returning the digest of what was read.
func copyRows(ctx context.Context, src, dst *Store, tables []copyTable) ([]rowDigest, error) {
	snapshot := &sql.TxOptions{ReadOnly: true}
	if src.dialect.postgres {
		snapshot.Isolation = sql.LevelRepeatableRead
	}
	rtx, err := src.db.BeginTx(ctx, snapshot)
	if err != nil {
		return nil, fmt.Errorf("begin reading the source: %w", err)
	}
	defer rtx.Rollback()
	digests := make([]rowDigest, len(tables))
	err = dst.WithTx(ctx, func(wtx *sql.Tx) error {
		if err := checkEmpty(ctx, wtx, dst.dialect, tables); err != nil {
			return err
		}
		for i, t := range tables {
			d, err := copyTableRows(ctx, rtx, wtx, t)
			if err != nil {
				return fmt.Errorf("table %s: %w", t.name, err)
			}
			digests[i] = d
		}
		return resetIdentities(ctx, wtx, dst.dialect)
	})
	return digests, err
}

// checkEmpty refuses a target holding any row, inside the copying
// transaction; on PostgreSQL it first takes the audit sequencer, so no
// process appends to the log between the check and the copy.
func checkEmpty(ctx context.Context, tx *sql.Tx, d dialect, tables []copyTable) error {
	if d.postgres {
		if _, err := lockAudit(ctx, tx, false); err != nil {
			return err
		}
	}
	for _, t := range tables {
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM `+t.name).Scan(&n); err != nil {
			return fmt.Errorf("count rows of %s in the target: %w", t.name, err)
		}
		if n > 0 {
			return fmt.Errorf("%w: table %s holds %d rows; copy into an empty database", ErrTargetNotEmpty, t.name, n)
		}
	}
	return nil
}

// copyTableRows streams one table from rtx into wtx in multi-row INSERTs.
func copyTableRows(ctx context.Context, rtx, wtx *sql.Tx, t copyTable) (rowDigest, error) {
	var d rowDigest
	rows, err := rtx.QueryContext(ctx, `SELECT `+strings.Join(t.cols, ", ")+` FROM `+t.name)
	if err != nil {
		return d, err
	}
	defer rows.Close()
	perBatch := max(1, min(500, 30000/len(t.cols))) // under both engines' parameter limits
	batch := make([]any, 0, perBatch*len(t.cols))
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		n := len(batch) / len(t.cols)
		row := "(?" + strings.Repeat(", ?", len(t.cols)-1) + ")"
		q := `INSERT INTO ` + t.name + ` (` + strings.Join(t.cols, ", ") + `) VALUES ` + row + strings.Repeat(", "+row, n-1)
		_, err := wtx.ExecContext(ctx, q, batch...)
		batch = batch[:0]
		return err
	}
	for rows.Next() {
		vals, err := scanValues(rows, len(t.cols))
		if err != nil {
			return d, err
		}
		d.add(vals)
		batch = append(batch, vals...)
		if len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return d, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return d, err
	}
	return d, flush()
}

func scanValues(rows *sql.Rows, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return nil, err
	}
	return vals, nil
}

// resetIdentities moves each PostgreSQL identity column's sequence past
// the highest value copied, so the next insert does not collide with a
// copied row. SQLite's INTEGER PRIMARY KEY needs nothing.
func resetIdentities(ctx context.Context, tx *sql.Tx, d dialect) error {
	if !d.postgres {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND is_identity = 'YES'`)
	if err != nil {
		return err
	}
	var cols [][2]string
	for rows.Next() {
		var c [2]string
		if err := rows.Scan(&c[0], &c[1]); err != nil {
			rows.Close()
			return err
		}
		cols = append(cols, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, c := range cols {
		if _, err := tx.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence(?, ?), coalesce(max(`+c[1]+`), 0) + 1, false) FROM `+c[0],
			c[0], c[1]); err != nil {
			return fmt.Errorf("reset the sequence of %s.%s: %w", c[0], c[1], err)
		}
	}
	return nil
}

// sameAuditTree checks that both logs have the same size and tree root.
func sameAuditTree(ctx context.Context, src, dst *Store) (int64, tlog.Hash, error) {
	n, err := dst.audit.Size(ctx)
	if err != nil {
		return 0, tlog.Hash{}, err
	}
	if n == 0 {
		return 0, tlog.Hash{}, nil
	}
	want, err := src.audit.TreeHash(ctx, n)
	if err != nil {
		return 0, tlog.Hash{}, fmt.Errorf("the source's audit tree: %w", err)
	}
	got, err := dst.audit.TreeHash(ctx, n)
	if err != nil {
		return 0, tlog.Hash{}, fmt.Errorf("the copied audit tree: %w", err)
	}
	if got != want {
		return 0, tlog.Hash{}, fmt.Errorf("the copied audit log's root %s differs from the source's %s", got, want)
	}
	return n, got, nil
}
