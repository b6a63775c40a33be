package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// ErrNotFound is returned for a seq the log does not hold.
var ErrNotFound = errors.New("audit entry not found")

// storedEntry is a row as stored: At kept as the exact text that was hashed.
type storedEntry struct {
	Entry
	atText string
}

const selectEntry = `SELECT seq, at, actor, action, subject, data, leaf_hash FROM audit_entries`

func scanEntry(scan func(dest ...any) error) (storedEntry, error) {
	var e storedEntry
	var data string
	var leaf []byte
	if err := scan(&e.Seq, &e.atText, &e.Actor, &e.Action, &e.Subject, &data, &leaf); err != nil {
		return storedEntry{}, err
	}
	e.Data = []byte(data)
	copy(e.LeafHash[:], leaf)
	// A malformed time is left zero; Verify reports the row through its hash.
	e.At, _ = time.Parse(timeFormat, e.atText)
	return e, nil
}

// Get returns the entry with the given seq.
func (l *Log) Get(ctx context.Context, seq int64) (Entry, error) {
	e, err := getStored(ctx, l.db, seq)
	return e.Entry, err
}

func getStored(ctx context.Context, q queryer, seq int64) (storedEntry, error) {
	e, err := scanEntry(q.QueryRowContext(ctx, selectEntry+` WHERE seq = ?`, seq).Scan)
	if errors.Is(err, sql.ErrNoRows) {
		return storedEntry{}, fmt.Errorf("audit entry seq %d: %w", seq, ErrNotFound)
	}
	if err != nil {
		return storedEntry{}, fmt.Errorf("read audit entry seq %d: %w", seq, err)
	}
	return e, nil
}

// Tail returns the last n entries, oldest first.
func (l *Log) Tail(ctx context.Context, n int) ([]Entry, error) {
	return l.entries(ctx, fmt.Sprintf("last %d", n),
		`SELECT * FROM (`+selectEntry+` ORDER BY seq DESC LIMIT ?) AS tail ORDER BY seq`, n)
}

// Page returns up to n entries with seq below before, newest first: one
// page of the log, read through the primary key whatever the log's size.
func (l *Log) Page(ctx context.Context, before int64, n int) ([]Entry, error) {
	return l.entries(ctx, fmt.Sprintf("%d before seq %d", n, before),
		selectEntry+` WHERE seq < ? ORDER BY seq DESC LIMIT ?`, before, n)
}

// About returns the entries whose subject is subject (a request id, say),
// oldest first, in one query through the subject index.
func (l *Log) About(ctx context.Context, subject string) ([]Entry, error) {
	return l.entries(ctx, "about "+subject, selectEntry+` WHERE subject = ? ORDER BY seq`, subject)
}

// entries runs a query of selectEntry rows; what names them in errors.
func (l *Log) entries(ctx context.Context, what, query string, args ...any) ([]Entry, error) {
	rows, err := l.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read audit entries %s: %w", what, err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("read audit entry: %w", err)
		}
		out = append(out, e.Entry)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit entries %s: %w", what, err)
	}
	return out, nil
}

// TreeHash returns the root hash of the first n entries from the stored hashes.
func (l *Log) TreeHash(ctx context.Context, n int64) (tlog.Hash, error) {
	h, err := tlog.TreeHash(n, newHashReader(ctx, l.db))
	if err != nil {
		return tlog.Hash{}, fmt.Errorf("audit tree hash at size %d: %w", n, err)
	}
	return h, nil
}
