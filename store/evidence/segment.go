package evidence

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// A segment is a contiguous run of audit entries [First, First+Covered)
// written as JSONL, with a proof that those exact entries are in the tree
// signed by a checkpoint: the roots of the complete subtrees left of First
// (the "frontier"), from which the entries rebuild the tree of size
// First+Covered, and a consistency proof from that tree to the signed one.
// Anyone with the public key checks it offline, without the database.

const segmentProofHeader = "tollgate audit segment proof v1"

// SegmentProof proves a segment file against a signed checkpoint.
type SegmentProof struct {
	File        string // the JSONL file it proves, relative to the proof
	First       int64  // seq of the first line
	Covered     int64  // lines proven; later lines are after the checkpoint
	Frontier    []tlog.Hash
	Consistency tlog.TreeProof
	Checkpoint  []byte // signed note, verbatim
}

// proveSegment builds the proof of entries [first, first+n) against the
// checkpoint cp (n is cut to what cp covers).
func proveSegment(ctx context.Context, db *sql.DB, log *audit.Log, file string, first, n int64, cp audit.Checkpoint) (SegmentProof, error) {
	p := SegmentProof{File: file, First: first, Checkpoint: cp.Note}
	p.Covered = min(n, max(cp.Size-first, 0))
	if p.Covered == 0 {
		return p, nil
	}
	fr, err := frontier(ctx, db, first)
	if err != nil {
		return SegmentProof{}, err
	}
	p.Frontier = fr
	if p.Consistency, err = log.ProveConsistency(ctx, first+p.Covered, cp.Size); err != nil {
		return SegmentProof{}, err
	}
	return p, nil
}

// frontier returns the roots of the complete subtrees covering [0, size),
// largest first, read from the hashes stored with the entries: the subtree
// [start, start+2^k) was completed by entry start+2^k-1 (level k of its
// tree_hashes; level 0 is a leaf hash).
func frontier(ctx context.Context, db *sql.DB, size int64) ([]tlog.Hash, error) {
	var out []tlog.Hash
	start := int64(0)
	for k := 62; k >= 0; k-- {
		if size&(int64(1)<<k) == 0 {
			continue
		}
		last := start + int64(1)<<k - 1
		var leaf, interior []byte
		if err := db.QueryRowContext(ctx, `SELECT leaf_hash, tree_hashes FROM audit_entries WHERE seq = ?`, last).
			Scan(&leaf, &interior); err != nil {
			return nil, fmt.Errorf("read stored hashes of audit entry seq %d: %w", last, err)
		}
		var h tlog.Hash
		switch {
		case k == 0 && len(leaf) == tlog.HashSize:
			copy(h[:], leaf)
		case k > 0 && len(interior) >= k*tlog.HashSize:
			copy(h[:], interior[(k-1)*tlog.HashSize:k*tlog.HashSize])
		default:
			return nil, fmt.Errorf("audit entry seq %d: stored tree hashes are too short for level %d", last, k)
		}
		out = append(out, h)
		start += int64(1) << k
	}
	return out, nil
}

// Format writes the proof as text, ending with the checkpoint note.
func (p SegmentProof) Format() []byte {
	var b bytes.Buffer
	fmt.Fprintln(&b, segmentProofHeader)
	fmt.Fprintf(&b, "file %s\n", strconv.Quote(p.File))
	fmt.Fprintf(&b, "first-seq %d\n", p.First)
	fmt.Fprintf(&b, "covered %d\n", p.Covered)
	writeHashes(&b, "frontier-hashes", p.Frontier)
	writeHashes(&b, "consistency-hashes", p.Consistency)
	fmt.Fprintln(&b)
	b.Write(p.Checkpoint)
	return b.Bytes()
}

func writeHashes(b *bytes.Buffer, key string, hs []tlog.Hash) {
	fmt.Fprintf(b, "%s %d\n", key, len(hs))
	for _, h := range hs {
		fmt.Fprintln(b, base64.StdEncoding.EncodeToString(h[:]))
	}
}

// ParseSegmentProof reads the text written by Format.
func ParseSegmentProof(text []byte) (SegmentProof, error) {
	var p SegmentProof
	sc := bufio.NewScanner(bytes.NewReader(text))
	line := 0
	next := func() bool {
		line++
		return sc.Scan()
	}
	field := func(key string) (string, error) {
		if !next() {
			return "", fmt.Errorf("segment proof line %d: missing %q", line, key)
		}
		v, ok := strings.CutPrefix(sc.Text(), key+" ")
		if !ok {
			return "", fmt.Errorf("segment proof line %d: want %q, got %q", line, key, sc.Text())
		}
		return v, nil
	}
	num := func(key string, limit int64) (int64, error) {
		v, err := field(key)
		if err != nil {
			return 0, err
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > limit {
			return 0, fmt.Errorf("segment proof line %d: bad %s %q", line, key, v)
		}
		return n, nil
	}
	hashes := func(key string) ([]tlog.Hash, error) {
		n, err := num(key, 64)
		if err != nil {
			return nil, err
		}
		var out []tlog.Hash
		for range n {
			if !next() {
				return nil, fmt.Errorf("segment proof line %d: missing %s", line, key)
			}
			h, err := tlog.ParseHash(sc.Text())
			if err != nil {
				return nil, fmt.Errorf("segment proof line %d: %w", line, err)
			}
			out = append(out, h)
		}
		return out, nil
	}
	if !next() || sc.Text() != segmentProofHeader {
		return p, fmt.Errorf("segment proof line 1: not a tollgate audit segment proof (want %q)", segmentProofHeader)
	}
	v, err := field("file")
	if err != nil {
		return p, err
	}
	if p.File, err = strconv.Unquote(v); err != nil || p.File == "" || strings.ContainsAny(p.File, "/\\") {
		return p, fmt.Errorf("segment proof line %d: bad file name %s", line, v)
	}
	if p.First, err = num("first-seq", 1<<62); err != nil {
		return p, err
	}
	if p.Covered, err = num("covered", 1<<62); err != nil {
		return p, err
	}
	if p.Frontier, err = hashes("frontier-hashes"); err != nil {
		return p, err
	}
	ct, err := hashes("consistency-hashes")
	if err != nil {
		return p, err
	}
	p.Consistency = ct
	if !next() || sc.Text() != "" {
		return p, fmt.Errorf("segment proof line %d: want a blank line before the checkpoint", line)
	}
	var cp bytes.Buffer
	for sc.Scan() {
		cp.WriteString(sc.Text())
		cp.WriteByte('\n')
	}
	p.Checkpoint = cp.Bytes()
	return p, sc.Err()
}

// SegmentCheck is what CheckSegment established.
type SegmentCheck struct {
	Lines      int64            // lines in the file
	Covered    int64            // lines proven in the signed tree
	Checkpoint audit.Checkpoint // the verified checkpoint
}

// CheckSegment verifies a JSONL segment against its proof: the checkpoint's
// signature by one of the trusted keys, that seq runs on from First without gaps, and that the first
// Covered lines, recomputed into leaves, rebuild a tree the signed tree
// extends, and that no key rotation among them retired the checkpoint's
// key. Lines after Covered are after the checkpoint: counted, unproven.
func CheckSegment(jsonl io.Reader, p SegmentProof, verifiers ...note.Verifier) (SegmentCheck, error) {
	cp, err := audit.OpenCheckpoint(p.Checkpoint, verifiers...)
	if err != nil {
		return SegmentCheck{}, fmt.Errorf("segment checkpoint: %w", err)
	}
	res := SegmentCheck{Covered: p.Covered, Checkpoint: cp}
	if p.First+p.Covered > cp.Size {
		return res, fmt.Errorf("proof claims %d entries from seq %d, beyond the checkpoint's %d", p.Covered, p.First, cp.Size)
	}
	if want := bits.OnesCount64(uint64(p.First)); len(p.Frontier) != want {
		return res, fmt.Errorf("proof has %d frontier hashes, a tree of size %d has %d", len(p.Frontier), p.First, want)
	}
	stack := append([]tlog.Hash(nil), p.Frontier...)
	var rotations []audit.Handover // key rotations among the lines
	dec := json.NewDecoder(jsonl)
	for n := p.First; ; n++ {
		var l jsonLine
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return res, fmt.Errorf("%s line %d: %w", p.File, res.Lines+1, err)
		}
		res.Lines++
		if l.Seq != n {
			return res, fmt.Errorf("%s line %d: seq %d, want %d (entries missing or reordered)", p.File, res.Lines, l.Seq, n)
		}
		if n >= p.First+p.Covered {
			continue
		}
		if l.Action == audit.ActionKeyRotated {
			h, err := audit.OpenRotation(l.Seq, l.Data, verifiers...)
			if err != nil {
				return res, fmt.Errorf("%s line %d: %w", p.File, res.Lines, err)
			}
			rotations = append(rotations, h)
		}
		stack = append(stack, tlog.RecordHash(l.leaf()))
		for k := bits.TrailingZeros64(^uint64(n)); k > 0; k-- {
			top := len(stack)
			stack = append(stack[:top-2], tlog.NodeHash(stack[top-2], stack[top-1]))
		}
	}
	if res.Lines < p.Covered {
		return res, fmt.Errorf("%s has %d lines, the proof covers %d (entries removed)", p.File, res.Lines, p.Covered)
	}
	if p.Covered == 0 {
		return res, nil
	}
	// A key rotated out within the segment signs nothing after it.
	if err := audit.CheckNotRetired(rotations, cp); err != nil {
		return res, fmt.Errorf("segment checkpoint: %w", err)
	}
	root := stack[len(stack)-1]
	for i := len(stack) - 2; i >= 0; i-- {
		root = tlog.NodeHash(stack[i], root)
	}
	if err := tlog.CheckTree(p.Consistency, cp.Size, cp.Root, p.First+p.Covered, root); err != nil {
		return res, fmt.Errorf("%s: entries seq %d..%d are not the ones in the audit log signed at size %d (an entry was changed): %w",
			p.File, p.First, p.First+p.Covered-1, cp.Size, err)
	}
	return res, nil
}

// CheckSegmentFiles opens a segment and its proof file and checks them.
func CheckSegmentFiles(jsonlPath, proofPath string, verifiers ...note.Verifier) (SegmentCheck, error) {
	text, err := os.ReadFile(proofPath)
	if err != nil {
		return SegmentCheck{}, err
	}
	p, err := ParseSegmentProof(text)
	if err != nil {
		return SegmentCheck{}, fmt.Errorf("%s: %w", proofPath, err)
	}
	f, err := os.Open(jsonlPath)
	if err != nil {
		return SegmentCheck{}, err
	}
	defer f.Close()
	return CheckSegment(f, p, verifiers...)
}

// writeEntries writes the entries seq lo..hi-1 to a new file at path,
// one JSON object a line, as they are read: nothing is held but the row
// being written. Entries below trusted are covered by a verified signed
// checkpoint (lineWriter).
func writeEntries(ctx context.Context, db *sql.DB, path string, lo, hi, trusted int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	lw := newLineWriter(bw, trusted)
	err = scanLog(ctx, db, lo, hi, lw.write)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	return nil
}
