package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"hash"
	"math/bits"
	"sort"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Report is the result of Verify.
type Report struct {
	OK   bool
	Size int64     // entries verified (the whole log when OK)
	Root tlog.Hash // tree hash at Size
	// Checkpoints is how many signed checkpoints were checked.
	Checkpoints int
	// LastCheckpoint is the signed checkpoint covering the most entries;
	// HasCheckpoint is false when the log has none.
	LastCheckpoint Checkpoint
	HasCheckpoint  bool
	// UnsignedTail is the number of entries after the last signed
	// checkpoint. Their hashes are consistent, but nothing signed covers
	// them: whoever holds the database file could have forged or rewritten
	// them. They become verified once a later checkpoint covers them.
	UnsignedTail int64
	// Problem is the first failure found, in log order; nil when OK.
	Problem *Problem
	// Signers says which trusted key signed which checkpoints, in log
	// order (one run per key across a rotation); only verified ones.
	Signers []KeyRun
	// Rotations are the verified key rotations, in log order.
	Rotations []Handover
}

// Problem names the first entry or checkpoint that does not verify.
type Problem struct {
	Seq          int64 // the first bad entry's seq, or -1 for a checkpoint problem
	CheckpointID int64 // the bad checkpoint's row id, or 0 for an entry problem
	// CheckpointSize is the tree size the bad checkpoint claims to sign.
	CheckpointSize int64
	Reason         string
}

// String reads "entry seq N: why" or "checkpoint ID (tree size S): why".
func (p *Problem) String() string {
	if p.Seq >= 0 {
		return fmt.Sprintf("entry seq %d: %s", p.Seq, p.Reason)
	}
	return fmt.Sprintf("checkpoint %d (tree size %d): %s", p.CheckpointID, p.CheckpointSize, p.Reason)
}

// storedCheckpoint is a checkpoint row with the outcome of its signature check.
type storedCheckpoint struct {
	id   int64
	cp   Checkpoint
	size int64 // where in the log it is checked: the signed size, else the column
	bad  string
}

// Verify recomputes every leaf hash from the entry rows and the whole Merkle
// tree in one streaming pass, compares them with the stored hashes, checks
// that seq runs from 0 without gaps, and checks that every checkpoint is
// signed by one of verifiers (the current key and the keys rotated out
// before it: see Keyring) and that its root equals the recomputed tree at
// its size. Checkpoints of different keys are checked against the same
// recomputed tree, which links the segments before and after a rotation.
// Each key signs only in its term: the first checkpoint's key until a key
// rotation entry (Rotate) retires it, whose handover note both keys
// signed over the tree before it; a checkpoint by a retired key beyond its
// rotation, or by a key no rotation introduced, fails naming the key.
// A log shorter than a checkpoint has been truncated. The returned error is
// for failures to read the database, or for no key at all; tampering is
// reported in Report.Problem. db may be read-only.
func Verify(ctx context.Context, db *sql.DB, verifiers ...note.Verifier) (Report, error) {
	return VerifyEach(ctx, db, nil, verifiers...)
}

// Row is one audit entry as stored, handed to VerifyEach's visit: the
// slices point into the driver's buffer and are valid only during the call.
type Row struct {
	Seq                              int64
	At, Actor, Action, Subject, Data []byte
	LeafHash                         []byte
}

// VerifyEach is Verify that also hands every row it reads to visit, in
// seq order, so a caller that needs the whole log (evidence) reads it
// once. After the first problem it checks nothing more but still reads
// and hands over the rows to the end. An error from visit ends the pass
// and is returned.
func VerifyEach(ctx context.Context, db *sql.DB, visit func(Row) error, verifiers ...note.Verifier) (Report, error) {
	keys := Keyring(verifiers).Unique()
	if len(keys) == 0 {
		return Report{}, fmt.Errorf("verify audit log: %w", errNoKeys)
	}
	cps, err := loadCheckpoints(ctx, db, keys)
	if err != nil {
		return Report{}, err
	}
	rows, err := db.QueryContext(ctx, `SELECT seq, at, actor, action, subject, data, leaf_hash, tree_hashes
		FROM audit_entries ORDER BY seq`)
	if err != nil {
		return Report{}, fmt.Errorf("read audit entries: %w", err)
	}
	defer rows.Close()

	v := verifyState{cps: cps}
	var (
		seq                                          int64
		at, actor, action, subject, data, leaf, tree sql.RawBytes
		buf                                          []byte
		h                                            = sha256.New()
		sum                                          tlog.Hash
		read                                         int64
	)
	checking := true
	for rows.Next() {
		if err := rows.Scan(&seq, &at, &actor, &action, &subject, &data, &leaf, &tree); err != nil {
			return Report{}, fmt.Errorf("read audit entry after seq %d: %w", v.n-1, err)
		}
		if visit != nil {
			if err := visit(Row{Seq: seq, At: at, Actor: actor, Action: action, Subject: subject, Data: data, LeafHash: leaf}); err != nil {
				return Report{}, err
			}
		}
		if read++; read%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return Report{}, err
			}
		}
		if !checking {
			continue
		}
		if checking = v.entry(seq, at, actor, action, subject, data, leaf, tree, keys, &buf, h, &sum); !checking && visit == nil {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return Report{}, fmt.Errorf("read audit entries: %w", err)
	}
	if v.problem == nil {
		v.checkpointsAt(v.n)
	}
	if v.problem == nil {
		v.checkTruncation()
	}
	r := Report{OK: v.problem == nil, Size: v.n, Root: v.root(), Checkpoints: len(cps), Problem: v.problem, Signers: v.signers, Rotations: v.rotations}
	if v.hasLast {
		r.LastCheckpoint, r.HasCheckpoint = v.last, true
		r.UnsignedTail = v.n - v.last.Size
	} else {
		r.UnsignedTail = v.n
	}
	return r, nil
}

// entry checks the checkpoints of the tree before seq, then entry seq: its
// place, a key rotation it records, its leaf hash and the interior hashes
// it completed. It reports whether the entry verified.
func (v *verifyState) entry(seq int64, at, actor, action, subject, data, leaf, tree []byte, keys Keyring,
	buf *[]byte, h hash.Hash, sum *tlog.Hash) bool {
	if v.problem == nil && v.checkpointsAt(v.n) {
		return false
	}
	if seq != v.n {
		reason := fmt.Sprintf("missing (the next stored entry is seq %d)", seq)
		if seq < v.n {
			reason = fmt.Sprintf("unexpected entry seq %d (seq starts at 0 and counts up by one)", seq)
			v.fail(seq, reason)
		} else {
			v.fail(v.n, reason)
		}
		return false
	}
	if string(action) == ActionKeyRotated && !v.rotate(seq, data, keys) {
		return false
	}
	*buf = appendLeaf((*buf)[:0], seq, at, actor, action, subject, data)
	h.Reset()
	h.Write([]byte{0}) // RFC 6962 leaf prefix, as tlog.RecordHash
	h.Write(*buf)
	h.Sum(sum[:0])
	if !bytes.Equal(leaf, sum[:]) {
		v.fail(seq, "leaf hash does not match the entry's contents (entry changed, or stored hash replaced)")
		return false
	}
	return v.addLeaf(*sum, tree)
}

// verifyState holds the running state of one Verify pass.
type verifyState struct {
	n       int64       // leaves seen
	stack   []tlog.Hash // roots of the complete subtrees, largest first
	cps     []storedCheckpoint
	next    int // index of the next checkpoint to check
	last    Checkpoint
	hasLast bool
	signers []KeyRun
	problem *Problem
	// active is the key that may sign at the current size: the first
	// checkpoint's key until a rotation entry hands over; retired maps
	// each retired key to its rotation.
	active    string
	retired   map[string]Handover
	rotations []Handover
}

func (v *verifyState) fail(seq int64, reason string) {
	if v.problem == nil {
		v.problem = &Problem{Seq: seq, Reason: reason}
	}
}

func (v *verifyState) failCheckpoint(c storedCheckpoint, reason string) {
	if v.problem == nil {
		v.problem = &Problem{Seq: -1, CheckpointID: c.id, CheckpointSize: c.size, Reason: reason}
	}
}

// addLeaf pushes leaf n and merges completed subtrees, comparing each new
// interior hash with the one stored with the entry. The merges are exactly
// the hashes tlog.StoredHashesForRecordHash produces for leaf n.
func (v *verifyState) addLeaf(leaf tlog.Hash, stored []byte) bool {
	merges := bits.TrailingZeros64(^uint64(v.n)) // trailing ones of n
	if len(stored) != merges*tlog.HashSize {
		v.fail(v.n, fmt.Sprintf("stored tree hashes have %d bytes, want %d", len(stored), merges*tlog.HashSize))
		return false
	}
	v.stack = append(v.stack, leaf)
	for k := 0; k < merges; k++ {
		top := len(v.stack)
		node := tlog.NodeHash(v.stack[top-2], v.stack[top-1])
		if !bytes.Equal(stored[k*tlog.HashSize:(k+1)*tlog.HashSize], node[:]) {
			lo := v.n + 1 - int64(1)<<(k+1)
			v.fail(v.n, fmt.Sprintf("stored tree hash at level %d (over entries %d..%d) does not match the recomputed tree: this entry's stored hashes, or one of the entries before it in that range, were replaced",
				k+1, lo, v.n))
			return false
		}
		v.stack = append(v.stack[:top-2], node)
	}
	v.n++
	return true
}

// root is the RFC 6962 tree hash of the leaves seen so far.
func (v *verifyState) root() tlog.Hash {
	if len(v.stack) == 0 {
		return tlog.Hash{}
	}
	h := v.stack[len(v.stack)-1]
	for i := len(v.stack) - 2; i >= 0; i-- {
		h = tlog.NodeHash(v.stack[i], h)
	}
	return h
}

// checkpointsAt checks every checkpoint of size n; it reports whether one failed.
func (v *verifyState) checkpointsAt(n int64) bool {
	for v.next < len(v.cps) && v.cps[v.next].size <= n {
		c := v.cps[v.next]
		v.next++
		if c.size < n { // only possible for size 0 or a size before the first row
			continue
		}
		if c.bad != "" {
			v.failCheckpoint(c, c.bad)
			return true
		}
		if root := v.root(); root != c.cp.Root {
			v.failCheckpoint(c, fmt.Sprintf("signed root %s does not match the recomputed tree %s (an entry before seq %d was changed and its hashes recomputed)",
				c.cp.Root, root, c.size))
			return true
		}
		if reason := v.admit(c.cp); reason != "" {
			v.failCheckpoint(c, reason)
			return true
		}
		v.last, v.hasLast = c.cp, true
		v.signers = addSigner(v.signers, c.cp)
	}
	return false
}

// admit checks that cp's key may sign at its size: the log's first key
// until a rotation retires it, then each successor in turn.
func (v *verifyState) admit(cp Checkpoint) string {
	switch {
	case v.active == "":
		v.active = cp.Key
		return ""
	case cp.Key == v.active:
		return ""
	}
	if h, ok := v.retired[cp.Key]; ok {
		return fmt.Sprintf("signed by key %s, retired at tree size %d by the key rotation at seq %d (to %s): a retired key signs nothing after its rotation",
			cp.Key, h.Size, h.Size, h.Successor)
	}
	return fmt.Sprintf("signed by key %s, but the active key at this size is %s and no key rotation entry hands over to %s",
		cp.Key, v.active, cp.Key)
}

// rotate checks the key rotation entry seq against the tree before it and
// hands the active key over; it reports whether the entry verified.
func (v *verifyState) rotate(seq int64, data []byte, keys Keyring) bool {
	h, err := openHandover(data, keys)
	reason := ""
	switch {
	case err != nil:
		reason = err.Error()
	case h.Size != seq:
		reason = fmt.Sprintf("handover note names tree size %d", h.Size)
	case h.Root != v.root():
		reason = fmt.Sprintf("handover note names root %s, but the tree before it is %s", h.Root, v.root())
	case v.active != "" && h.Retired != v.active:
		reason = fmt.Sprintf("retires key %s, but the active key is %s", h.Retired, v.active)
	case v.retired[h.Successor].Successor != "":
		reason = fmt.Sprintf("hands over to key %s, retired at tree size %d: a retired key never signs again", h.Successor, v.retired[h.Successor].Size)
	}
	if reason != "" {
		v.fail(seq, "key rotation: "+reason)
		return false
	}
	if v.retired == nil {
		v.retired = map[string]Handover{}
	}
	v.retired[h.Retired] = h
	v.active = h.Successor
	v.rotations = append(v.rotations, h)
	return true
}

// checkTruncation reports checkpoints signed for more entries than the log has.
func (v *verifyState) checkTruncation() {
	if v.next >= len(v.cps) {
		return
	}
	c := v.cps[v.next] // the smallest size beyond the log decides
	if c.bad != "" {
		v.failCheckpoint(c, c.bad)
		return
	}
	v.fail(v.n, fmt.Sprintf("missing: the log ends at size %d but checkpoint %d signed at %s covers %d entries (log truncated)",
		v.n, c.id, c.cp.Time.Format(time.RFC3339), c.size))
}

// loadCheckpoints reads and verifies every checkpoint, ordered by the size
// at which each is checked.
func loadCheckpoints(ctx context.Context, db *sql.DB, keys Keyring) ([]storedCheckpoint, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, tree_size, note FROM audit_checkpoints`)
	if err != nil {
		return nil, fmt.Errorf("read audit checkpoints: %w", err)
	}
	defer rows.Close()
	var out []storedCheckpoint
	for rows.Next() {
		var c storedCheckpoint
		var msg []byte
		if err := rows.Scan(&c.id, &c.size, &msg); err != nil {
			return nil, fmt.Errorf("read audit checkpoint: %w", err)
		}
		cp, err := OpenCheckpoint(msg, keys...)
		switch {
		case err != nil:
			c.bad = err.Error()
		case cp.Size != c.size:
			c.bad = fmt.Sprintf("stored tree_size %d differs from the signed size %d", c.size, cp.Size)
		}
		if err == nil {
			c.cp, c.size = cp, cp.Size
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit checkpoints: %w", err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].size != out[j].size {
			return out[i].size < out[j].size
		}
		return out[i].id < out[j].id
	})
	return out, nil
}
