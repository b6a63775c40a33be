package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"
)

// copyTable is one table Copy moves, with the columns it moves.
type copyTable struct {
	name string
	cols []string
}

// copyPlan lists the tables to copy (every table of the target's schema
// but schema_migrations, which Open wrote), those another references
// first, each with the columns to copy: the PostgreSQL side's (its rowid
// column is SQLite's implicit rowid, which both keep insertion order by),
// all of which the other side must have.
func copyPlan(ctx context.Context, src, dst *Store) ([]copyTable, error) {
	srcTables, err := src.dialect.tables(ctx, src.db)
	if err != nil {
		return nil, fmt.Errorf("list the source's tables: %w", err)
	}
	dstTables, err := dst.dialect.tables(ctx, dst.db)
	if err != nil {
		return nil, fmt.Errorf("list the target's tables: %w", err)
	}
	if !slices.Equal(srcTables, dstTables) {
		return nil, fmt.Errorf("the schemas differ: the source has tables %v, the target %v", srcTables, dstTables)
	}
	order, err := dst.dialect.referencedFirst(ctx, dst.db, dstTables)
	if err != nil {
		return nil, fmt.Errorf("read the target's foreign keys: %w", err)
	}
	lead, other := dst, src
	if src.dialect.postgres && !dst.dialect.postgres {
		lead, other = src, dst
	}
	var out []copyTable
	for _, name := range order {
		cols, err := lead.dialect.columns(ctx, lead.db, name)
		if err != nil {
			return nil, err
		}
		have, err := other.dialect.columns(ctx, other.db, name)
		if err != nil {
			return nil, err
		}
		for _, c := range cols {
			if !slices.Contains(have, c) && !(c == "rowid" && !other.dialect.postgres) {
				return nil, fmt.Errorf("the schemas differ: table %s has no column %s on %s", name, c, other.dialect.name)
			}
		}
		out = append(out, copyTable{name: name, cols: cols})
	}
	return out, nil
}

// notCopied are the tables Copy leaves out: schema_migrations, which Open
// wrote, and the replicas' coordination (who is alive, who leads, who
// delivers), which describes processes of the source, not the install.
var notCopied = []string{"schema_migrations", "replicas", "leader_leases", "outbox_claims"}

// tables lists the current schema's tables but those not copied, sorted.
func (d dialect) tables(ctx context.Context, db *sql.DB) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if d.postgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`
	}
	names, err := queryStrings(ctx, db, q)
	names = slices.DeleteFunc(names, func(n string) bool { return slices.Contains(notCopied, n) })
	slices.Sort(names)
	return names, err
}

// columns lists a table's columns in their order.
func (d dialect) columns(ctx context.Context, db *sql.DB, table string) ([]string, error) {
	q := `SELECT name FROM pragma_table_info(?) ORDER BY cid`
	if d.postgres {
		q = `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`
	}
	cols, err := queryStrings(ctx, db, q, table)
	if err != nil {
		return nil, fmt.Errorf("read the columns of %s: %w", table, err)
	}
	return cols, nil
}

// referencedFirst orders tables so each comes after those its foreign keys
// reference (they were created in such an order, so there is no cycle).
func (d dialect) referencedFirst(ctx context.Context, db *sql.DB, tables []string) ([]string, error) {
	refs := map[string][]string{}
	for _, t := range tables {
		q := `SELECT "table" FROM pragma_foreign_key_list(?)`
		if d.postgres {
			q = `SELECT ccu.table_name FROM information_schema.table_constraints tc
				JOIN information_schema.constraint_column_usage ccu
				  ON ccu.constraint_schema = tc.constraint_schema AND ccu.constraint_name = tc.constraint_name
				WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = current_schema() AND tc.table_name = ?`
		}
		r, err := queryStrings(ctx, db, q, t)
		if err != nil {
			return nil, err
		}
		refs[t] = r
	}
	var out []string
	placed := map[string]bool{}
	var place func(t string, depth int)
	place = func(t string, depth int) {
		if placed[t] || depth > len(tables) {
			return
		}
		for _, r := range refs[t] {
			if r != t {
				place(r, depth+1)
			}
		}
		if !placed[t] {
			placed[t] = true
			out = append(out, t)
		}
	}
	for _, t := range tables {
		place(t, 0)
	}
	return out, nil
}

func queryStrings(ctx context.Context, db *sql.DB, q string, args ...any) ([]string, error) {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// rowDigest sums (mod 2²⁵⁶) the SHA-256 of every row's values: the same
// rows give the same digest in any order, on either engine.
type rowDigest struct {
	rows int64
	sum  [4]uint64
}

func (d *rowDigest) add(vals []any) {
	h := sha256.New()
	var buf []byte
	for _, v := range vals {
		buf = appendValue(buf[:0], v)
		h.Write(buf)
	}
	var x [32]byte
	h.Sum(x[:0])
	var carry uint64
	for i := range d.sum {
		d.sum[i], carry = bits.Add64(d.sum[i], binary.BigEndian.Uint64(x[8*i:]), carry)
	}
	d.rows++
}

// appendValue encodes one column value unambiguously. Text and bytes
// encode alike: the engines return a column's bytes as either.
func appendValue(b []byte, v any) []byte {
	switch v := v.(type) {
	case nil:
		return append(b, 'n')
	case int64:
		return binary.BigEndian.AppendUint64(append(b, 'i'), uint64(v))
	case float64:
		return binary.BigEndian.AppendUint64(append(b, 'f'), math.Float64bits(v))
	case bool:
		if v {
			return append(b, 'b', 1)
		}
		return append(b, 'b', 0)
	case string:
		return append(binary.BigEndian.AppendUint64(append(b, 's'), uint64(len(v))), v...)
	case []byte:
		return append(binary.BigEndian.AppendUint64(append(b, 's'), uint64(len(v))), v...)
	case time.Time:
		s := v.UTC().Format(time.RFC3339Nano)
		return append(binary.BigEndian.AppendUint64(append(b, 't'), uint64(len(s))), s...)
	default:
		s := fmt.Sprintf("%T:%v", v, v)
		return append(binary.BigEndian.AppendUint64(append(b, '?'), uint64(len(s))), s...)
	}
}

// tableDigest reads t's columns back and digests them.
func tableDigest(ctx context.Context, db *sql.DB, t copyTable) (rowDigest, error) {
	var d rowDigest
	rows, err := db.QueryContext(ctx, `SELECT `+strings.Join(t.cols, ", ")+` FROM `+t.name)
	if err != nil {
		return d, err
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := scanValues(rows, len(t.cols))
		if err != nil {
			return d, err
		}
		d.add(vals)
	}
	return d, rows.Err()
}
