package anchor

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// Anchored is one checkpoint as found in the anchor repository.
type Anchored struct {
	Path string // where it was found, for messages
	Note []byte // the signed note, verbatim
}

// Report is the result of Check.
type Report struct {
	OK      bool
	Local   audit.Report // the local log's own verification
	Checked int          // anchored checkpoints proven consistent
	// Largest is the biggest anchored tree size proven; 0 when none.
	Largest int64
	// Problem is the first anchored checkpoint the local log contradicts,
	// in order of tree size; nil when OK or when the local log itself
	// failed (Local.Problem says why).
	Problem *Problem
}

// Problem names an anchored checkpoint the local log contradicts.
type Problem struct {
	Path   string
	Size   int64 // the checkpoint's tree size, -1 when it could not be read
	Reason string
}

// String reads "anchored checkpoint PATH (tree size N): why".
func (p *Problem) String() string {
	if p.Size < 0 {
		return fmt.Sprintf("anchored checkpoint in %s: %s", p.Path, p.Reason)
	}
	return fmt.Sprintf("anchored checkpoint in %s (tree size %d): %s", p.Path, p.Size, p.Reason)
}

// Check verifies the local log (audit.Verify: every leaf, every tree hash,
// every stored checkpoint) and then proves it consistent with each
// anchored checkpoint: the anchored tree must be a prefix of the local
// one (an RFC 6962 consistency proof from the local tree). A log rewritten
// and re-signed with the same key passes audit.Verify but not this; a
// checkpoint larger than the local log means the log was truncated. Every
// checkpoint, stored or anchored, must be signed by a key of keys (the
// current key and those rotated out) within its term (audit.CheckKeyAt:
// never a retired key after its rotation). The error is for failures to read
// the database.
func Check(ctx context.Context, db *sql.DB, keys audit.Keyring, anchored []Anchored) (Report, error) {
	local, err := audit.Verify(ctx, db, keys...)
	if err != nil {
		return Report{}, err
	}
	r := Report{Local: local}
	if !local.OK {
		return r, nil
	}
	type opened struct {
		Anchored
		cp audit.Checkpoint
	}
	var cps []opened
	for _, a := range anchored {
		cp, err := audit.OpenCheckpoint(a.Note, keys...)
		if err == nil {
			err = audit.CheckKeyAt(local.Rotations, cp)
		}
		if err != nil {
			r.Problem = &Problem{Path: a.Path, Size: -1, Reason: err.Error()}
			return r, nil
		}
		cps = append(cps, opened{a, cp})
	}
	sort.SliceStable(cps, func(i, j int) bool { return cps[i].cp.Size < cps[j].cp.Size })
	log := audit.New(db, audit.Options{})
	head := audit.Checkpoint{Size: local.Size, Root: local.Root}
	for _, c := range cps {
		if p := consistent(ctx, log, c.cp, head); p != "" {
			r.Problem = &Problem{Path: c.Path, Size: c.cp.Size, Reason: p}
			return r, nil
		}
		r.Checked++
		r.Largest = max(r.Largest, c.cp.Size)
	}
	r.OK = true
	return r, nil
}

// consistent returns why the local head does not extend cp, or "".
func consistent(ctx context.Context, log *audit.Log, cp, head audit.Checkpoint) string {
	signed := cp.Time.UTC().Format("2006-01-02T15:04:05Z")
	switch {
	case cp.Size == 0:
		return ""
	case cp.Size > head.Size:
		return fmt.Sprintf("signed at %s for %d entries, but the local log has only %d (log truncated)", signed, cp.Size, head.Size)
	case cp.Size == head.Size:
		if cp.Root != head.Root {
			return fmt.Sprintf("signed at %s with root %s, but the local log of the same size has root %s (log rewritten)", signed, cp.Root, head.Root)
		}
		return ""
	}
	proof, err := log.ProveConsistency(ctx, cp.Size, head.Size)
	if err != nil {
		return fmt.Sprintf("no consistency proof from the local log: %v", err)
	}
	if err := audit.CheckConsistency(proof, cp, head); err != nil {
		return fmt.Sprintf("signed at %s with root %s, which is not a prefix of the local log (entries before seq %d were rewritten): %v",
			signed, cp.Root, cp.Size, err)
	}
	return ""
}
