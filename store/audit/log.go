package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Options configures a Log.
type Options struct {
	// Signer signs checkpoints; nil means the log writes none.
	Signer note.Signer
	// CheckpointEvery > 0 writes a checkpoint inside the appending transaction
	// whenever the size crosses a multiple of it.
	CheckpointEvery int
	// Now is the clock for entry and checkpoint times; nil means time.Now.
	Now func() time.Time
	// RunTx runs fn in one write transaction (store.Store.WithTx). Nil means a
	// plain db.BeginTx; Checkpoint is the only method that opens its own.
	RunTx func(ctx context.Context, fn func(tx *sql.Tx) error) error
	// Sequencer, when set, is called inside the transaction before every
	// append and checkpoint, and must hold until the transaction ends
	// whatever lock makes the writers of every process take turns (the
	// store's PostgreSQL advisory lock). It returns the log's head as read
	// once the lock is held, with the stored hashes of its whole right edge
	// when edge is true. Nil relies on the transaction alone holding the
	// database's write lock (SQLite), and the size is read from the table.
	Sequencer func(ctx context.Context, tx *sql.Tx, edge bool) (Head, error)
	// InsertIfHead, set along with Sequencer, inserts one audit_entries row
	// (insertEntries' columns, in order) only if, once the sequencer's lock
	// is held, the log still has size entries and the last one's leaf hash
	// is lastLeaf (nil when size is 0); it takes that lock, held to the end
	// of tx, and reports whether it inserted. An append whose process knows
	// the head (head_cache.go) uses it to spare the sequencer's round trip.
	// Whoever opens the transactions that append (RunTx, the store's
	// WithTx) must then call Log.TxEnded as each ends, or the head its
	// appends left is never known, and never forgotten.
	InsertIfHead func(ctx context.Context, tx *sql.Tx, size int64, lastLeaf []byte, row []any) (bool, error)
}

// Head is the end of the log as a Sequencer read it under its lock.
type Head struct {
	Size int64
	// Hashes may carry stored hashes the next append reads (seq Size-1,
	// Size-2, Size-4, …), sparing a query for each; asked for the edge, the
	// Sequencer returns those of the log's whole right edge (the last entry
	// of each perfect subtree of the tree of size Size), which hold every
	// hash the next append and checkpoint read.
	Hashes []StoredHashes
}

// StoredHashes is one entry's stored hash columns, as in audit_entries.
type StoredHashes struct {
	Seq        int64
	LeafHash   []byte
	TreeHashes []byte
}

// Log is the audit log in one database. Appends happen inside the caller's
// transaction, so a state change and its audit entry commit or roll back
// together.
type Log struct {
	db    *sql.DB
	opts  Options
	heads knownHeads
}

// New returns the audit log kept in db's audit_entries and audit_checkpoints
// tables (created by the store's migrations).
func New(db *sql.DB, opts Options) *Log {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.RunTx == nil {
		opts.RunTx = func(ctx context.Context, fn func(tx *sql.Tx) error) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if err := fn(tx); err != nil {
				return err
			}
			return tx.Commit()
		}
	}
	return &Log{db: db, opts: opts, heads: knownHeads{pending: map[*sql.Tx]Head{}}}
}

// ErrEmptyEvent is returned for an event without actor or action.
var ErrEmptyEvent = errors.New("audit event needs an actor and an action")

// Append adds ev to the log inside tx. tx must be a write transaction that
// already holds the write lock (the store's WithTx does); if Append fails
// the caller must roll tx back, which WithTx does when fn returns the error.
func (l *Log) Append(ctx context.Context, tx *sql.Tx, ev Event) (Entry, error) {
	es, err := l.AppendBatch(ctx, tx, []Event{ev})
	if err != nil {
		return Entry{}, err
	}
	return es[0], nil
}

// AppendBatch adds evs in order inside tx and returns their entries. It
// writes a signed checkpoint in the same transaction when the new size
// crosses a multiple of CheckpointEvery.
func (l *Log) AppendBatch(ctx context.Context, tx *sql.Tx, evs []Event) ([]Entry, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	prepared, err := l.prepare(evs)
	if err != nil {
		return nil, err
	}
	guess, r, guessed, edge := l.knownHead(ctx, tx)
	start, inserted := guess.Size, false
	if guessed {
		if inserted, err = l.insertEntries(ctx, tx, prepared, start, r, &guess); err != nil {
			return nil, err
		}
		l.guessed(inserted)
	}
	if !inserted { // no head known, or another process appended since
		if start, r, err = l.head(ctx, tx, edge); err != nil {
			return nil, err
		}
		if _, err := l.insertEntries(ctx, tx, prepared, start, r, nil); err != nil {
			return nil, err
		}
	}
	end := start + int64(len(prepared))
	if every := int64(l.opts.CheckpointEvery); every > 0 && start/every != end/every {
		if _, err := l.writeCheckpoint(ctx, tx, end, r); err != nil {
			return nil, err
		}
	}
	l.appended(tx, end, r)
	return prepared, nil
}

// appendEntries adds evs in order inside tx at seq start (the size head
// returned), without a checkpoint.
func (l *Log) appendEntries(ctx context.Context, tx *sql.Tx, evs []Event, start int64, r *hashReader) ([]Entry, error) {
	prepared, err := l.prepare(evs)
	if err != nil {
		return nil, err
	}
	if _, err := l.insertEntries(ctx, tx, prepared, start, r, nil); err != nil {
		return nil, err
	}
	return prepared, nil
}

// prepare turns events into entries (time and canonical data), unnumbered.
func (l *Log) prepare(evs []Event) ([]Entry, error) {
	prepared := make([]Entry, len(evs))
	at := l.opts.Now().UTC()
	for i, ev := range evs {
		if ev.Actor == "" || ev.Action == "" {
			return nil, fmt.Errorf("append audit event %q by %q: %w", ev.Action, ev.Actor, ErrEmptyEvent)
		}
		data, err := CanonicalJSON(ev.Data)
		if err != nil {
			return nil, fmt.Errorf("append audit event %s on %s: %w", ev.Action, ev.Subject, err)
		}
		prepared[i] = Entry{At: at, Actor: ev.Actor, Action: ev.Action, Subject: ev.Subject, Data: data}
	}
	return prepared, nil
}

// insertEntries numbers the prepared entries from start (the log's size,
// read through head), hashes them into the tree and inserts them. A guess
// means start and r come from knownHead: the first row then goes through
// InsertIfHead, and when the log's head has moved on nothing is inserted
// and it returns false.
func (l *Log) insertEntries(ctx context.Context, tx *sql.Tx, prepared []Entry, start int64, r *hashReader, guess *Head) (bool, error) {
	ins, err := tx.PrepareContext(ctx, `INSERT INTO audit_entries
		(seq, at, actor, action, subject, data, leaf_hash, tree_hashes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return false, fmt.Errorf("append audit entry: prepare: %w", err)
	}
	defer ins.Close()
	for i := range prepared {
		e := &prepared[i]
		e.Seq = start + int64(i)
		e.LeafHash = LeafHash(*e)
		hashes, err := tlog.StoredHashesForRecordHash(e.Seq, e.LeafHash, r)
		if err != nil {
			return false, fmt.Errorf("append audit entry seq %d: tree hashes: %w", e.Seq, err)
		}
		r.remember(e.Seq, hashes)
		interior := make([]byte, 0, 32*(len(hashes)-1))
		for _, h := range hashes[1:] {
			interior = append(interior, h[:]...)
		}
		row := []any{e.Seq, formatTime(e.At), e.Actor, e.Action, e.Subject, string(e.Data), e.LeafHash[:], interior}
		if i == 0 && guess != nil {
			ok, err := l.opts.InsertIfHead(ctx, tx, start, guess.lastLeaf(), row)
			if err != nil {
				return false, fmt.Errorf("append audit entry seq %d (%s on %s): %w", e.Seq, e.Action, e.Subject, err)
			}
			if !ok {
				return false, nil
			}
			continue
		}
		if _, err := ins.ExecContext(ctx, row...); err != nil {
			return false, fmt.Errorf("append audit entry seq %d (%s on %s): %w", e.Seq, e.Action, e.Subject, err)
		}
	}
	return true, nil
}

// head returns the log's size and a hash reader for appending in tx,
// through the sequencer if the log has one (asking it for the right edge
// with edge).
func (l *Log) head(ctx context.Context, tx *sql.Tx, edge bool) (int64, *hashReader, error) {
	r := newHashReader(ctx, tx)
	if l.opts.Sequencer == nil {
		n, err := treeSize(ctx, tx)
		return n, r, err
	}
	h, err := l.opts.Sequencer(ctx, tx, edge)
	if err != nil {
		return 0, nil, fmt.Errorf("append to audit log: %w", err)
	}
	for _, row := range h.Hashes {
		if _, err := r.add(row.Seq, row.LeafHash, row.TreeHashes); err != nil {
			return 0, nil, err
		}
	}
	return h.Size, r, nil
}

// treeSize is the number of entries: one past the highest seq.
func treeSize(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}) (int64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, `SELECT coalesce(max(seq) + 1, 0) FROM audit_entries`).Scan(&n); err != nil {
		return 0, fmt.Errorf("read audit log size: %w", err)
	}
	return n, nil
}

// Size returns the number of entries in the log.
func (l *Log) Size(ctx context.Context) (int64, error) { return treeSize(ctx, l.db) }
