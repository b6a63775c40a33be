package audit

import (
	"context"
	"database/sql"
	"sync"

	"golang.org/x/mod/sumdb/tlog"
)

// On PostgreSQL an append first asks the sequencer for the log's head: one
// round trip, on top of its INSERT's, and a quarter of an audited state
// change's time. After a commit that appended, though, this process knows
// the head it left: the size and the right edge's stored hashes, which hold
// everything the next append reads. The next append computes its entry from
// that and sends it through Options.InsertIfHead, which inserts only if,
// under the sequencer's lock, the log still ends where the guess says: the
// same size, and the same last entry (its leaf hash commits to its seq and
// content). The log is append-only, so that is the same log; anything else
// (another replica appended, a commit whose outcome was unknown, a database
// restored from a backup) inserts nothing, and the append asks the
// sequencer as before, its lock already held. A wrong guess costs a round
// trip, never an entry.

// While other processes append too, the guess is mostly wrong, and a miss
// holds the sequencer's lock for one round trip more than asking would
// have (three replicas appending at once managed about half the rate).
// So after a miss the log asks the sequencer for the next 2, then 4, … up
// to maxGuessSkip appends before guessing again; the last of them asks for
// the right edge, which the next guess needs.

// maxGuessSkip bounds how many appends ask the sequencer after misses
// before the next guess.
const maxGuessSkip = 64

// knownHeads is what this process knows of the log's head.
type knownHeads struct {
	mu sync.Mutex
	// committed is the head after the latest commit that appended, if any.
	committed *Head
	// pending is the head each open transaction's appends left.
	pending map[*sql.Tx]Head
	// backoff is how many appends the last miss made ask the sequencer
	// (0 after a right guess); skip is how many are left.
	backoff, skip int
}

// knownHead returns the head to guess for an append in tx (the head of
// tx's own earlier appends, else the latest committed one) and a reader
// holding its edge; or, when there is none or it is not time to guess,
// guessed false and whether to ask the sequencer for the edge.
func (l *Log) knownHead(ctx context.Context, tx *sql.Tx) (h Head, r *hashReader, guessed, edge bool) {
	if l.opts.Sequencer == nil || l.opts.InsertIfHead == nil {
		return Head{}, nil, false, false
	}
	l.heads.mu.Lock()
	h, ok := l.heads.pending[tx]
	if !ok && l.heads.skip == 0 && l.heads.committed != nil {
		h, ok = *l.heads.committed, true
	}
	if !ok && l.heads.skip > 0 {
		l.heads.skip--
	}
	edge = l.heads.skip == 0
	l.heads.mu.Unlock()
	if !ok {
		return Head{}, nil, false, edge
	}
	r = newHashReader(ctx, tx)
	for _, row := range h.Hashes {
		if _, err := r.add(row.Seq, row.LeafHash, row.TreeHashes); err != nil {
			return Head{}, nil, false, edge
		}
	}
	return h, r, true, false
}

// guessed records whether a guess was right; a wrong one forgets the
// committed head and sets how many appends ask before the next guess.
func (l *Log) guessed(right bool) {
	l.heads.mu.Lock()
	defer l.heads.mu.Unlock()
	if right {
		l.heads.backoff = 0
		return
	}
	l.heads.backoff = min(max(2*l.heads.backoff, 2), maxGuessSkip)
	l.heads.skip = l.heads.backoff
	l.heads.committed = nil
}

// lastLeaf is the leaf hash of the head's last entry, nil for an empty
// log. The right edge always ends with that entry.
func (h Head) lastLeaf() []byte {
	if h.Size == 0 || len(h.Hashes) == 0 {
		return nil
	}
	return h.Hashes[len(h.Hashes)-1].LeafHash
}

// appended records the head tx's appends left, size entries with the
// stored hashes r holds, for the next append once tx commits.
func (l *Log) appended(tx *sql.Tx, size int64, r *hashReader) {
	if l.opts.Sequencer == nil || l.opts.InsertIfHead == nil {
		return
	}
	hashes, ok := r.edge(size)
	l.heads.mu.Lock()
	defer l.heads.mu.Unlock()
	if !ok {
		delete(l.heads.pending, tx)
		return
	}
	l.heads.pending[tx] = Head{Size: size, Hashes: hashes}
}

// TxEnded tells the log that tx, which may have appended, has ended
// (store.WithTx calls it for every transaction). A commit makes the head
// tx left the one the next append guesses, unless a later one is already
// known; a rollback, or a commit that failed, forgets it.
func (l *Log) TxEnded(tx *sql.Tx, committed bool) {
	l.heads.mu.Lock()
	defer l.heads.mu.Unlock()
	h, ok := l.heads.pending[tx]
	if !ok {
		return
	}
	delete(l.heads.pending, tx)
	if committed && (l.heads.committed == nil || h.Size > l.heads.committed.Size) {
		l.heads.committed = &h
	}
}

// edge returns the stored hashes of the right edge of the tree of size n,
// the last entry of each perfect subtree, from those r holds (the
// sequencer's, and those of entries appended since), or false if r lacks
// one. postgres/0190_audit_guarded_append.sql reads the same entries.
func (r *hashReader) edge(n int64) ([]StoredHashes, bool) {
	var rows []StoredHashes
	for k := 62; k >= 0; k-- {
		if n>>k&1 == 0 {
			continue
		}
		seq := n>>k<<k - 1 // the perfect subtree of set bit k ends here
		first, next := tlog.StoredHashIndex(0, seq), tlog.StoredHashIndex(0, seq+1)
		row := StoredHashes{Seq: seq, TreeHashes: make([]byte, 0, tlog.HashSize*(next-first-1))}
		for i := first; i < next; i++ {
			h, ok := r.overlay[i]
			if !ok {
				return nil, false
			}
			if i == first {
				row.LeafHash = append([]byte(nil), h[:]...)
			} else {
				row.TreeHashes = append(row.TreeHashes, h[:]...)
			}
		}
		rows = append(rows, row)
	}
	return rows, true
}
