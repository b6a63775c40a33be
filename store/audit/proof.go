package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// InclusionProof shows that one entry is in the tree signed by a checkpoint.
// It carries everything needed to check it offline with the public key.
type InclusionProof struct {
	Seq                    int64
	At                     string // exactly as stored and hashed
	Actor, Action, Subject string
	Data                   []byte
	Proof                  tlog.RecordProof
	Checkpoint             []byte // the signed note, verbatim
}

// ErrNotCovered is returned when no signed checkpoint covers the entry yet.
var ErrNotCovered = errors.New("no signed checkpoint covers this entry yet")

// ErrTampered is returned when an entry's stored fields no longer hash to
// its stored leaf hash, or its leaf is not in the tree the checkpoint
// signs: a proof of it would vouch for an edited row.
var ErrTampered = errors.New("the entry's stored data no longer matches its leaf hash")

// ProveInclusion builds an inclusion proof of entry seq against the latest
// stored checkpoint. It fails with ErrNotFound for a seq past the end of
// the log, ErrNotCovered when no checkpoint covers it yet, and ErrTampered
// when the stored entry is not the one the signed tree holds.
func (l *Log) ProveInclusion(ctx context.Context, seq int64) (InclusionProof, error) {
	size, err := l.Size(ctx)
	if err != nil {
		return InclusionProof{}, err
	}
	if seq < 0 || seq >= size {
		return InclusionProof{}, fmt.Errorf("prove audit entry seq %d: %w: the log holds %s", seq, ErrNotFound, EntriesText(size))
	}
	cp, ok, err := l.LatestCheckpoint(ctx)
	if err != nil {
		return InclusionProof{}, err
	}
	if !ok || seq >= cp.Size {
		covered := "there is no checkpoint yet"
		if ok {
			covered = fmt.Sprintf("the latest covers seq 0..%d", cp.Size-1)
		}
		return InclusionProof{}, fmt.Errorf("prove audit entry seq %d: %w (%s)", seq, ErrNotCovered, covered)
	}
	return l.ProveInclusionAt(ctx, seq, cp)
}

// ProveInclusionAt builds an inclusion proof of entry seq against the
// stored checkpoint cp (as Checkpoint or LatestCheckpoint returned it):
// several entries proven against one checkpoint, however many were signed
// since. It fails like ProveInclusion.
func (l *Log) ProveInclusionAt(ctx context.Context, seq int64, cp Checkpoint) (InclusionProof, error) {
	if seq < 0 || seq >= cp.Size {
		return InclusionProof{}, fmt.Errorf("prove audit entry seq %d: %w (the checkpoint covers seq 0..%d)", seq, ErrNotCovered, cp.Size-1)
	}
	e, err := getStored(ctx, l.db, seq)
	if err != nil {
		return InclusionProof{}, fmt.Errorf("prove audit entry: %w", err)
	}
	p := InclusionProof{Seq: seq, At: e.atText, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Data: e.Data, Checkpoint: cp.Note}
	leaf := p.leafHash()
	if leaf != e.LeafHash {
		return InclusionProof{}, fmt.Errorf("prove audit entry seq %d: %w: it was changed after it was written (run tollgate verify)", seq, ErrTampered)
	}
	p.Proof, err = tlog.ProveRecord(cp.Size, seq, newHashReader(ctx, l.db))
	if err != nil {
		return InclusionProof{}, fmt.Errorf("prove audit entry seq %d in tree of size %d: %w", seq, cp.Size, err)
	}
	// The stored hashes could have been rewritten with the row: the proof
	// must lead from the entry's own hash to the root the checkpoint signs.
	if err := tlog.CheckRecord(p.Proof, cp.Size, cp.Root, seq, leaf); err != nil {
		return InclusionProof{}, fmt.Errorf("prove audit entry seq %d: %w: its hash is not in the signed tree of %d entries (run tollgate verify)", seq, ErrTampered, cp.Size)
	}
	return p, nil
}

// EntriesText says what a log of n entries holds: "no entries",
// "1 entry (seq 0)", "47 entries (seq 0..46)".
func EntriesText(n int64) string {
	switch n {
	case 0:
		return "no entries"
	case 1:
		return "1 entry (seq 0)"
	}
	return fmt.Sprintf("%d entries (seq 0..%d)", n, n-1)
}

const proofHeader = "tollgate audit inclusion proof v1"

// Format writes the proof as text: a header, the entry's fields (strings
// quoted as Go literals, data as canonical JSON), the leaf hash, the proof
// hashes, a blank line, and the signed checkpoint note verbatim.
func (p InclusionProof) Format() ([]byte, error) {
	if bytes.ContainsAny(p.Data, "\r\n") {
		return nil, fmt.Errorf("audit entry seq %d: data is not canonical JSON (holds a line break)", p.Seq)
	}
	var b bytes.Buffer
	fmt.Fprintln(&b, proofHeader)
	fmt.Fprintf(&b, "seq %d\n", p.Seq)
	fmt.Fprintf(&b, "at %s\n", strconv.Quote(p.At))
	fmt.Fprintf(&b, "actor %s\n", strconv.Quote(p.Actor))
	fmt.Fprintf(&b, "action %s\n", strconv.Quote(p.Action))
	fmt.Fprintf(&b, "subject %s\n", strconv.Quote(p.Subject))
	fmt.Fprintf(&b, "data %s\n", p.Data)
	fmt.Fprintf(&b, "leaf-hash %s\n", p.leafHash())
	fmt.Fprintf(&b, "proof-hashes %d\n", len(p.Proof))
	for _, h := range p.Proof {
		fmt.Fprintln(&b, base64.StdEncoding.EncodeToString(h[:]))
	}
	fmt.Fprintln(&b)
	b.Write(p.Checkpoint)
	return b.Bytes(), nil
}

func (p InclusionProof) leafHash() tlog.Hash {
	return tlog.RecordHash(AppendLeaf(nil, p.Seq, p.At, p.Actor, p.Action, p.Subject, p.Data))
}

// ParseInclusionProof reads the text written by Format.
func ParseInclusionProof(text []byte) (InclusionProof, error) {
	var p InclusionProof
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 0, 64*1024), 16<<20)
	line := 0
	next := func(key string) (string, error) {
		line++
		if !sc.Scan() {
			return "", fmt.Errorf("proof line %d: missing %q", line, key)
		}
		val, ok := strings.CutPrefix(sc.Text(), key+" ")
		if !ok {
			return "", fmt.Errorf("proof line %d: want %q, got %q", line, key, sc.Text())
		}
		return val, nil
	}
	line++
	if !sc.Scan() || sc.Text() != proofHeader {
		return p, fmt.Errorf("proof line 1: not a tollgate audit inclusion proof (want %q)", proofHeader)
	}
	val, err := next("seq")
	if err != nil {
		return p, err
	}
	if p.Seq, err = strconv.ParseInt(val, 10, 64); err != nil || p.Seq < 0 {
		return p, fmt.Errorf("proof line %d: bad seq %q", line, val)
	}
	for _, f := range []struct {
		key string
		dst *string
	}{{"at", &p.At}, {"actor", &p.Actor}, {"action", &p.Action}, {"subject", &p.Subject}} {
		if val, err = next(f.key); err != nil {
			return p, err
		}
		if *f.dst, err = strconv.Unquote(val); err != nil {
			return p, fmt.Errorf("proof line %d: %s is not a quoted string", line, f.key)
		}
	}
	if val, err = next("data"); err != nil {
		return p, err
	}
	p.Data = []byte(val)
	if _, err = next("leaf-hash"); err != nil { // informational: recomputed from the fields
		return p, err
	}
	if val, err = next("proof-hashes"); err != nil {
		return p, err
	}
	n, err := strconv.Atoi(val)
	if err != nil || n < 0 || n > 64 {
		return p, fmt.Errorf("proof line %d: bad proof hash count %q", line, val)
	}
	for i := 0; i < n; i++ {
		line++
		if !sc.Scan() {
			return p, fmt.Errorf("proof line %d: missing proof hash %d of %d", line, i+1, n)
		}
		h, err := tlog.ParseHash(sc.Text())
		if err != nil {
			return p, fmt.Errorf("proof line %d: bad proof hash: %w", line, err)
		}
		p.Proof = append(p.Proof, h)
	}
	line++
	if !sc.Scan() || sc.Text() != "" {
		return p, fmt.Errorf("proof line %d: want a blank line before the checkpoint", line)
	}
	var cp bytes.Buffer
	for sc.Scan() {
		cp.WriteString(sc.Text())
		cp.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return p, fmt.Errorf("read proof: %w", err)
	}
	p.Checkpoint = cp.Bytes()
	return p, nil
}

// CheckInclusionProof verifies p offline: the checkpoint's signature by
// one of the trusted keys (OpenCheckpoint), then that the leaf recomputed
// from the printed fields is in the signed tree. It returns the checkpoint
// the entry is proven against; its Key names the key that signed it.
func CheckInclusionProof(p InclusionProof, verifiers ...note.Verifier) (Checkpoint, error) {
	cp, err := OpenCheckpoint(p.Checkpoint, verifiers...)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("proof checkpoint: %w", err)
	}
	if p.Seq >= cp.Size {
		return Checkpoint{}, fmt.Errorf("entry seq %d is beyond the checkpoint's tree size %d", p.Seq, cp.Size)
	}
	if err := tlog.CheckRecord(p.Proof, cp.Size, cp.Root, p.Seq, p.leafHash()); err != nil {
		return Checkpoint{}, fmt.Errorf("entry seq %d is not in the tree of size %d signed by %s: %w", p.Seq, cp.Size, cp.KeyName, err)
	}
	return cp, nil
}

// ProveConsistency proves that the tree of size older is a prefix of the
// tree of size newer, from the stored hashes.
func (l *Log) ProveConsistency(ctx context.Context, older, newer int64) (tlog.TreeProof, error) {
	p, err := tlog.ProveTree(newer, older, newHashReader(ctx, l.db))
	if err != nil {
		return nil, fmt.Errorf("prove audit tree of size %d extends size %d: %w", newer, older, err)
	}
	return p, nil
}

// CheckConsistency verifies that newer's tree extends older's, given a
// proof from ProveConsistency. Both checkpoints must already be verified
// (OpenCheckpoint).
func CheckConsistency(p tlog.TreeProof, older, newer Checkpoint) error {
	if err := tlog.CheckTree(p, newer.Size, newer.Root, older.Size, older.Root); err != nil {
		return fmt.Errorf("audit checkpoint of size %d does not extend the one of size %d: %w", newer.Size, older.Size, err)
	}
	return nil
}
