package evidence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// ExportOptions configures Export.
type ExportOptions struct {
	Range Range
	Out   string // directory to create; it must not exist or be empty
	// SegmentEntries is the most entries per segment file; 0 means 10000.
	SegmentEntries int
}

// ExportResult says what Export wrote.
type ExportResult struct {
	Segments   []string // JSONL file names, in seq order
	First, End int64    // the entries exported are seq First..End-1
	Unproven   int64    // entries after the latest checkpoint (in the files, not proven)
	Checkpoint audit.Checkpoint
}

// Export writes the audit entries of a time range as JSONL segments for
// archiving, each with a proof (segment-*.proof) against the latest signed
// checkpoint, written to checkpoint.txt. The range is the contiguous run of
// seq from the first entry dated in it to the last, so the segments can be
// proven; entries are never filtered out of the middle.
func Export(ctx context.Context, st *store.Store, opts ExportOptions) (ExportResult, error) {
	per := int64(opts.SegmentEntries)
	if per <= 0 {
		per = 10000
	}
	cp, ok, err := st.Audit().LatestCheckpoint(ctx)
	if err != nil {
		return ExportResult{}, err
	}
	if !ok {
		return ExportResult{}, errors.New("the audit log has no signed checkpoint yet, so nothing can be proven: run tollgate serve (or export with a signing key) first")
	}
	first, end, err := seqRange(ctx, st.DB(), opts.Range)
	if err != nil {
		return ExportResult{}, err
	}
	if err := makeOutDir(opts.Out); err != nil {
		return ExportResult{}, err
	}
	res := ExportResult{First: first, End: end, Checkpoint: cp, Unproven: max(0, end-max(first, cp.Size))}
	if err := writeFile(filepath.Join(opts.Out, "checkpoint.txt"), cp.Note); err != nil {
		return res, err
	}
	for lo := first; lo < end; lo += per {
		hi := min(lo+per, end)
		name := fmt.Sprintf("segment-%012d-%012d", lo, hi-1)
		if err := writeSegment(ctx, st, opts.Out, name, lo, hi, cp); err != nil {
			return res, err
		}
		res.Segments = append(res.Segments, name+".jsonl")
	}
	readme := fmt.Sprintf(`Tollgate audit log export
range:       %s
entries:     seq %d..%d (%d entries)
checkpoint:  tree size %d, signed %s
unproven:    %d entries after that checkpoint

Each segment-A-B.jsonl holds entries seq A..B, one JSON object a line, with
the fields exactly as hashed. segment-A-B.proof proves them against the
signed checkpoint (checkpoint.txt): check a segment offline with
    tollgate audit verify-export DIR --public-key audit-signing.pub
`, opts.Range, first, end-1, end-first, cp.Size, cp.Time.Format(time.RFC3339), res.Unproven)
	if end == first {
		readme = fmt.Sprintf("Tollgate audit log export\nrange: %s\nno audit entries are dated in this range\n", opts.Range)
	}
	return res, writeFile(filepath.Join(opts.Out, "README.txt"), []byte(readme))
}

func writeSegment(ctx context.Context, st *store.Store, dir, name string, lo, hi int64, cp audit.Checkpoint) error {
	if err := writeEntries(ctx, st.DB(), filepath.Join(dir, name+".jsonl"), lo, hi, 0); err != nil { // unverified: every line through encoding/json
		return fmt.Errorf("write segment %s: %w", name, err)
	}
	p, err := proveSegment(ctx, st.DB(), st.Audit(), name+".jsonl", lo, hi-lo, cp)
	if err != nil {
		return fmt.Errorf("prove segment %s: %w", name, err)
	}
	return writeFile(filepath.Join(dir, name+".proof"), p.Format())
}

// seqRange returns the seq run [first, end) from the first entry dated in
// r to the last one; first == end when none is.
func seqRange(ctx context.Context, db *sql.DB, r Range) (first, end int64, err error) {
	rows, err := db.QueryContext(ctx, `SELECT seq, at FROM audit_entries ORDER BY seq`)
	if err != nil {
		return 0, 0, fmt.Errorf("read audit log: %w", err)
	}
	defer rows.Close()
	first, end = -1, -1
	for rows.Next() {
		var seq int64
		var at string
		if err := rows.Scan(&seq, &at); err != nil {
			return 0, 0, fmt.Errorf("read audit log: %w", err)
		}
		t, err := time.Parse(time.RFC3339Nano, at)
		if err != nil || !r.Contains(t) {
			continue
		}
		if first < 0 {
			first = seq
		}
		end = seq + 1
	}
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("read audit log: %w", err)
	}
	if first < 0 {
		return 0, 0, nil
	}
	return first, end, nil
}

// VerifyExport checks every segment in an export directory against its
// proof and returns one line per segment; err names the first failure.
// Each segment's checkpoint must be signed by one of the trusted keys.
func VerifyExport(dir string, verifiers ...note.Verifier) ([]string, error) {
	proofs, err := filepath.Glob(filepath.Join(dir, "segment-*.proof"))
	if err != nil {
		return nil, err
	}
	if len(proofs) == 0 {
		return nil, fmt.Errorf("%s holds no segment-*.proof files", dir)
	}
	var out []string
	for _, pf := range proofs {
		jl := pf[:len(pf)-len(".proof")] + ".jsonl"
		res, err := CheckSegmentFiles(jl, pf, verifiers...)
		if err != nil {
			return out, fmt.Errorf("%s: %w", filepath.Base(jl), err)
		}
		out = append(out, fmt.Sprintf("OK: %s: %d entries, %d proven in the log of %d entries signed by %s at %s",
			filepath.Base(jl), res.Lines, res.Covered, res.Checkpoint.Size, res.Checkpoint.KeyName, res.Checkpoint.Time.Format(time.RFC3339)))
	}
	return out, nil
}

// makeOutDir creates dir, or accepts an existing empty one: a pack is
// never mixed with files from an earlier run.
func makeOutDir(dir string) error {
	if dir == "" {
		return errors.New("no output directory given (--out DIR)")
	}
	ents, err := os.ReadDir(dir)
	switch {
	case err == nil && len(ents) > 0:
		return fmt.Errorf("output directory %s is not empty; give a new one", dir)
	case err == nil:
		return nil
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create output directory: %w", err)
		}
		return nil
	}
	return fmt.Errorf("output directory: %w", err)
}

// writeFile writes a new file; it never overwrites one.
func writeFile(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, werr := f.Write(b)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	return nil
}
