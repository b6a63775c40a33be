package audit

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"golang.org/x/mod/sumdb/tlog"
)

// The tree's stored hashes (tlog's numbering) live with the entry that
// completed them: stored index StoredHashIndex(0, seq) is the entry's
// leaf_hash, and the following indexes up to StoredHashIndex(0, seq+1) are
// the interior hashes in tree_hashes, level 1 first. One row per entry keeps
// appends and Verify to a single table scan.

// entryOfIndex returns the seq of the entry holding stored hash index i and
// the position of that hash among the entry's hashes (0 = leaf hash).
func entryOfIndex(i int64) (seq int64, pos int64) {
	// StoredHashIndex(0, m) grows with m and is at least m, so seq <= i.
	seq = int64(sort.Search(int(i)+1, func(m int) bool { return tlog.StoredHashIndex(0, int64(m)) > i })) - 1
	return seq, i - tlog.StoredHashIndex(0, seq)
}

// queryer is the part of *sql.DB and *sql.Tx the readers use.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// hashReader is a tlog.HashReader over the stored hashes, with an overlay
// of hashes written earlier in the same batch.
type hashReader struct {
	ctx     context.Context
	q       queryer
	overlay map[int64]tlog.Hash
}

func newHashReader(ctx context.Context, q queryer) *hashReader {
	return &hashReader{ctx: ctx, q: q, overlay: map[int64]tlog.Hash{}}
}

// remember records the stored hashes entry seq just produced.
func (r *hashReader) remember(seq int64, hashes []tlog.Hash) {
	base := tlog.StoredHashIndex(0, seq)
	for k, h := range hashes {
		r.overlay[base+int64(k)] = h
	}
}

// ReadHashes implements tlog.HashReader.
func (r *hashReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		if h, ok := r.overlay[idx]; ok {
			out[i] = h
			continue
		}
		seq, pos := entryOfIndex(idx)
		hashes, err := r.entryHashes(seq)
		if err != nil {
			return nil, err
		}
		if pos >= int64(len(hashes)) {
			return nil, fmt.Errorf("audit entry seq %d: stored tree hashes are short (have %d, need %d)", seq, len(hashes), pos+1)
		}
		out[i] = hashes[pos]
	}
	return out, nil
}

// entryHashes reads the leaf hash and interior hashes stored with seq.
func (r *hashReader) entryHashes(seq int64) ([]tlog.Hash, error) {
	var leaf, interior []byte
	err := r.q.QueryRowContext(r.ctx, `SELECT leaf_hash, tree_hashes FROM audit_entries WHERE seq = ?`, seq).Scan(&leaf, &interior)
	if err == sql.ErrNoRows {
		return nil, fmt.Errorf("audit entry seq %d is missing", seq)
	}
	if err != nil {
		return nil, fmt.Errorf("read audit entry seq %d hashes: %w", seq, err)
	}
	return r.add(seq, leaf, interior)
}

// add puts the stored hashes of entry seq in the overlay and returns them.
func (r *hashReader) add(seq int64, leaf, interior []byte) ([]tlog.Hash, error) {
	if len(leaf) != tlog.HashSize || len(interior)%tlog.HashSize != 0 {
		return nil, fmt.Errorf("audit entry seq %d: stored hashes have the wrong length", seq)
	}
	hashes := make([]tlog.Hash, 1+len(interior)/tlog.HashSize)
	copy(hashes[0][:], leaf)
	for k := 1; k < len(hashes); k++ {
		copy(hashes[k][:], interior[(k-1)*tlog.HashSize:])
	}
	for k, h := range hashes {
		r.overlay[tlog.StoredHashIndex(0, seq)+int64(k)] = h
	}
	return hashes, nil
}
