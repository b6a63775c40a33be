// Package evidence writes what an auditor asks for about deployments: the
// pack of `tollgate evidence` (the population of changes and its
// exceptions, samples with inclusion proofs, the verify result, a report
// and a signed MANIFEST) and the archive segments of `tollgate audit export`.
// Everything is derived from the audit log, the tamper-evident source, and
// cross-checked against the requests table.
package evidence

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// entry is one audit entry exactly as stored: At is the hashed text.
type entry struct {
	Seq      int64
	At       string
	Time     time.Time
	Actor    string
	Action   string
	Subject  string
	Data     json.RawMessage
	LeafHash []byte
}

// scanLog calls visit for the entries seq lo..hi-1 (hi < 0: to the end of
// the log) in seq order, one row at a time. e.Data and e.LeafHash point
// into the driver's buffer: they are valid only during the call.
func scanLog(ctx context.Context, db *sql.DB, lo, hi int64, visit func(e entry) error) error {
	q, args := `SELECT seq, at, actor, action, subject, data, leaf_hash FROM audit_entries WHERE seq >= ?`, []any{lo}
	if hi >= 0 {
		q, args = q+` AND seq < ?`, append(args, hi)
	}
	rows, err := db.QueryContext(ctx, q+` ORDER BY seq`, args...)
	if err != nil {
		return fmt.Errorf("read audit log from seq %d: %w", lo, err)
	}
	defer rows.Close()
	var data, leaf sql.RawBytes
	for rows.Next() {
		var e entry
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.Subject, &data, &leaf); err != nil {
			return fmt.Errorf("read audit entry: %w", err)
		}
		e.Data, e.LeafHash = json.RawMessage(data), []byte(leaf)
		// A malformed time stays zero; verify.txt names the entry through its hash.
		e.Time, _ = time.Parse(time.RFC3339Nano, e.At)
		if err := visit(e); err != nil {
			return err
		}
		if e.Seq%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read audit log: %w", err)
	}
	return nil
}

// Range is a half-open time range [From, To) in UTC.
type Range struct {
	From, To time.Time
}

// Contains reports whether t is in r.
func (r Range) Contains(t time.Time) bool { return !t.Before(r.From) && t.Before(r.To) }

// String reads "2025-01-01T00:00:00Z .. 2026-01-01T00:00:00Z (end excluded)".
func (r Range) String() string {
	return fmt.Sprintf("%s .. %s (end excluded)", r.From.UTC().Format(time.RFC3339), r.To.UTC().Format(time.RFC3339))
}

// ParseRange reads --from and --to: a date (YYYY-MM-DD, UTC; --to includes
// its whole day) or an RFC 3339 time (--to excluded).
func ParseRange(from, to string) (Range, error) {
	f, err := parseBound(from, false)
	if err != nil {
		return Range{}, fmt.Errorf("--from: %w", err)
	}
	t, err := parseBound(to, true)
	if err != nil {
		return Range{}, fmt.Errorf("--to: %w", err)
	}
	if !f.Before(t) {
		return Range{}, fmt.Errorf("--from %s is not before --to %s", from, to)
	}
	return Range{From: f, To: t}, nil
}

func parseBound(s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, fmt.Errorf("a date is required (YYYY-MM-DD or RFC 3339)")
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d.UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor an RFC 3339 time", s)
	}
	return t.UTC(), nil
}

// jsonLine is one exported entry: the fields that are hashed, as stored,
// and the stored leaf hash for orientation (verification recomputes it).
type jsonLine struct {
	Seq      int64           `json:"seq"`
	At       string          `json:"at"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Subject  string          `json:"subject"`
	Data     json.RawMessage `json:"data"`
	LeafHash []byte          `json:"leaf_hash"`
}

func (e entry) line() jsonLine {
	return jsonLine{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Data: e.Data, LeafHash: e.LeafHash}
}

// leaf is the RFC 6962 leaf bytes of a line, as the audit log hashes them.
func (l jsonLine) leaf() []byte {
	return audit.AppendLeaf(nil, l.Seq, l.At, l.Actor, l.Action, l.Subject, l.Data)
}
