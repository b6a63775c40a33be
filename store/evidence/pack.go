package evidence

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// Options configures Build.
type Options struct {
	Range       Range
	Repo        string // only this repository ("" = all)
	Environment string // only this environment ("" = all)
	SampleSize  int    // changes drawn into sample/ (0 = none)
	Seed        uint64 // seed of the sample draw
	Out         string // directory to create; it must not exist or be empty
	// Signer signs the MANIFEST; it must be the audit key, so the pack is
	// checked with the same public key as the checkpoints.
	Signer   note.Signer
	Verifier note.Verifier
	// PreviousKeys are the public keys rotated out before Verifier
	// (audit.previous_public_key_files): checkpoints they signed verify.
	PreviousKeys []note.Verifier
	// Environments describes configured environments; nil or unknown ones
	// count as production when named "production" or "prod".
	Environments func(repo, env string) (EnvironmentInfo, bool)
	Freezes      []FreezeWindow // configured freeze windows, listed in locks_and_freezes.csv
	// Anchors checks the checkpoints anchored outside the database and
	// returns its report for verify.txt; nil means anchoring is not configured.
	Anchors func(ctx context.Context) (report string, ok bool, err error)
	Now     func() time.Time // nil: time.Now
	Source  string           // the database, as named in the pack
}

// EnvironmentInfo is what evidence needs to know of an environment's config.
type EnvironmentInfo struct {
	Production            bool
	EmergencyReviewWithin time.Duration // 0: 24 h
}

// Summary is what Build wrote.
type Summary struct {
	Out            string
	Changes        int
	Deployed       int
	Sampled        int
	Proofs         int
	Unproven       int // sample entries after the latest checkpoint
	Files          int // files listed in the MANIFEST
	Exceptions     []Exception
	Reconciliation Reconciliation
	Verify         audit.Report
}

// Build writes the auditor's pack for opts.Range into opts.Out (see
// docs/evidence.md for every file) and signs its MANIFEST.
func Build(ctx context.Context, st *store.Store, opts Options) (*Summary, error) {
	if opts.Signer == nil || opts.Verifier == nil {
		return nil, errors.New("evidence: the audit signing key is required to sign the pack's MANIFEST")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	now := opts.Now().UTC()
	if err := makeOutDir(opts.Out); err != nil {
		return nil, err
	}
	db := st.DB()
	vr, err := audit.Verify(ctx, db, append([]note.Verifier{opts.Verifier}, opts.PreviousKeys...)...)
	if err != nil {
		return nil, fmt.Errorf("verify audit log: %w", err)
	}
	ds, err := collect(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	ds.now = now
	if err := ds.loadTable(ctx, st.Request); err != nil {
		return nil, err
	}
	sum := &Summary{Out: opts.Out, Changes: len(ds.changes), Verify: vr}
	production, within := opts.production(), opts.reviewWithin()
	perChange := map[string][]string{}
	var excs []Exception
	for _, c := range ds.changes {
		if c.Deployed() {
			sum.Deployed++
		}
		es := changeExceptions(c, production(c.Created.Repo, c.Created.Environment), within(c.Created.Repo, c.Created.Environment), now)
		for _, e := range es {
			perChange[c.ID] = append(perChange[c.ID], e.Code)
		}
		excs = append(excs, es...)
	}
	unaudited, tableRows, err := unauditedRequests(ctx, db, opts, ds.byID)
	if err != nil {
		return nil, err
	}
	excs = append(excs, unaudited...)
	excs = append(excs, verifyExceptions(vr)...)
	excs = append(excs, mfaExceptions(ds)...)
	sortExceptions(excs)
	sum.Exceptions = excs
	sum.Reconciliation = reconcile(ds, tableRows)

	tables := []*table{changesTable(ds, production, perChange), approvalsTable(ds), refusalsTable(ds),
		emergencyTable(ds, within, now), accessReviewsTable(ds), accessChangesTable(ds),
		locksTable(ds, opts.Freezes), exceptionsTable(excs)}
	for _, t := range tables {
		b, err := t.encode()
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", t.name, err)
		}
		if err := writeFile(filepath.Join(opts.Out, t.name), b); err != nil {
			return nil, err
		}
	}
	if err := writeAuditRange(ctx, st, opts.Out, ds); err != nil {
		return nil, err
	}
	anchors := "anchors:         not configured (no external anchor repository to compare with)\n"
	if opts.Anchors != nil {
		text, ok, err := opts.Anchors(ctx)
		if err != nil {
			return nil, fmt.Errorf("check anchored checkpoints: %w", err)
		}
		anchors = text
		if !ok {
			excs = append(excs, Exception{Code: ExcVerifyFailed, Seq: -1, Detail: "anchored checkpoints: " + firstLine(text)})
			sum.Exceptions = excs
		}
	}
	verifyText := FormatVerify(opts.Source, opts.Verifier.Name(), vr) + anchors
	if err := writeFile(filepath.Join(opts.Out, "verify.txt"), []byte(verifyText)); err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(opts.Out, "reconciliation.txt"), []byte(sum.Reconciliation.Text(opts))); err != nil {
		return nil, err
	}
	for _, c := range pickSample(ds.changes, opts.SampleSize, opts.Seed) {
		p, u, err := writeSample(ctx, st.Audit(), opts.Out, c)
		if err != nil {
			return nil, err
		}
		sum.Sampled++
		sum.Proofs += p
		sum.Unproven += u
	}
	if err := writeControls(opts.Out, opts); err != nil {
		return nil, err
	}
	if err := writeReport(opts.Out, opts, ds, sum, now, production); err != nil {
		return nil, err
	}
	if sum.Files, err = writeManifest(opts.Out, opts.Range.String(), opts.Signer); err != nil {
		return nil, err
	}
	return sum, nil
}

func (o Options) production() func(repo, env string) bool {
	return func(repo, env string) bool {
		if o.Environments != nil {
			if info, ok := o.Environments(repo, env); ok {
				return info.Production
			}
		}
		return strings.EqualFold(env, "production") || strings.EqualFold(env, "prod")
	}
}

// DefaultEmergencyReviewWithin is the review deadline of an emergency
// change when the configuration does not say.
const DefaultEmergencyReviewWithin = 24 * time.Hour

func (o Options) reviewWithin() func(repo, env string) time.Duration {
	return func(repo, env string) time.Duration {
		if o.Environments != nil {
			if info, ok := o.Environments(repo, env); ok && info.EmergencyReviewWithin > 0 {
				return info.EmergencyReviewWithin
			}
		}
		return DefaultEmergencyReviewWithin
	}
}

// writeAuditRange writes audit.jsonl (the entries of the range), its
// segment proof audit.proof and checkpoint.txt.
func writeAuditRange(ctx context.Context, st *store.Store, dir string, ds *dataset) error {
	var es []entry
	if err := scanSeqs(ctx, st.DB(), ds.first, ds.end, func(e entry) error { es = append(es, e); return nil }); err != nil {
		return err
	}
	var b bytes.Buffer
	if err := writeJSONL(&b, es); err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, "audit.jsonl"), b.Bytes()); err != nil {
		return err
	}
	cp, ok, err := st.Audit().LatestCheckpoint(ctx)
	if err != nil {
		return err
	}
	if !ok {
		return writeFile(filepath.Join(dir, "checkpoint.txt"), []byte("no signed checkpoint exists yet\n"))
	}
	if err := writeFile(filepath.Join(dir, "checkpoint.txt"), cp.Note); err != nil {
		return err
	}
	if err := writeMFACredentials(ctx, st, dir, ds.first); err != nil {
		return err
	}
	p, err := proveSegment(ctx, st.DB(), st.Audit(), "audit.jsonl", ds.first, ds.end-ds.first, cp)
	if err != nil {
		return fmt.Errorf("prove audit.jsonl: %w", err)
	}
	return writeFile(filepath.Join(dir, "audit.proof"), p.Format())
}

// verifyExceptions turns a failed or partly unsigned verify into exceptions.
func verifyExceptions(r audit.Report) []Exception {
	var out []Exception
	if !r.OK {
		seq := int64(-1)
		if r.Problem != nil && r.Problem.Seq >= 0 {
			seq = r.Problem.Seq
		}
		out = append(out, Exception{Code: ExcVerifyFailed, Seq: seq, Detail: "tollgate verify: " + r.Problem.String()})
	}
	if r.OK && r.UnsignedTail > 0 {
		out = append(out, Exception{Code: ExcUnsignedTail, Seq: r.Size - r.UnsignedTail, Detail: fmt.Sprintf(
			"%d entries (seq %d..%d) are after the last signed checkpoint: consistent, but no signature covers them",
			r.UnsignedTail, r.Size-r.UnsignedTail, r.Size-1)})
	}
	return out
}

// FormatVerify is the report of `tollgate verify` as written to verify.txt;
// keyName is the key named when no checkpoint says which key signed it.
func FormatVerify(source, keyName string, r audit.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "database:        %s\n", source)
	if !r.OK {
		fmt.Fprintf(&b, "verified:        %d entries before the first problem\n", r.Size)
		fmt.Fprintf(&b, "FAIL: %s\n", r.Problem)
		return b.String()
	}
	fmt.Fprintf(&b, "entries:         %d\n", r.Size)
	fmt.Fprintf(&b, "root:            %s\n", base64.StdEncoding.EncodeToString(r.Root[:]))
	fmt.Fprintf(&b, "checkpoints:     %d, every signature valid for %s\n", r.Checkpoints, r.SignedBy(keyName))
	if r.HasCheckpoint {
		fmt.Fprintf(&b, "last checkpoint: tree size %d, signed %s\n", r.LastCheckpoint.Size, r.LastCheckpoint.Time.Format(time.RFC3339))
	} else {
		fmt.Fprintf(&b, "last checkpoint: none\n")
	}
	fmt.Fprintf(&b, "unsigned tail:   %d entries after the last signed checkpoint\n", r.UnsignedTail)
	if r.UnsignedTail > 0 {
		fmt.Fprintf(&b, "OK (signed through seq %d; %d unsigned entries after it)\n", r.Size-r.UnsignedTail-1, r.UnsignedTail)
	} else {
		fmt.Fprintln(&b, "OK")
	}
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
