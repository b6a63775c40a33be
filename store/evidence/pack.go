package evidence

import (
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
	// The MANIFEST is signed by the key that signs checkpoints now: never
	// by a retired one (audit.Log.Rotate).
	if active, err := st.Audit().ActiveKey(ctx); err != nil {
		return nil, err
	} else if id := fmt.Sprintf("%s+%08x", opts.Signer.Name(), opts.Signer.KeyHash()); active != "" && active != id {
		return nil, fmt.Errorf("evidence: signing key %s is not the audit log's active key %s", id, active)
	}
	// One pass over the log verifies it and, row by row, writes the event
	// CSVs and finds the population; then the population's changes stream
	// while audit.jsonl is copied beside them. Build waits for its
	// background work before it returns.
	ctx, cancel := context.WithCancel(ctx)
	var running []func()
	defer func() { // on an early return, stop the background work and wait for it
		cancel()
		for _, wait := range running {
			wait()
		}
	}()
	events, err := createEventFiles(opts.Out, opts.Freezes)
	if err != nil {
		return nil, err
	}
	pass := newLogPass(opts, events)
	vr, err := audit.VerifyEach(ctx, db, pass.row, append([]note.Verifier{opts.Verifier}, opts.PreviousKeys...)...)
	if cerr := events.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("verify and read the audit log: %w", err)
	}
	log := pass.summary()
	auditRange := inBackground(func() (struct{}, error) {
		return struct{}{}, writeAuditRange(ctx, st, opts.Out, log, signedThrough(vr))
	})
	running = append(running, func() { auditRange.wait() })
	sum := &Summary{Out: opts.Out}
	t := newTally(opts, now)
	excs, err := writeChanges(ctx, st, opts, log, t, sum, now)
	if err != nil {
		return nil, err
	}
	unaudited, tableRows, err := unauditedRequests(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	if _, err := auditRange.wait(); err != nil {
		return nil, err
	}
	sum.Verify = vr
	excs = append(excs, unaudited...)
	excs = append(excs, verifyExceptions(vr)...)
	excs = append(excs, log.mfa.exceptions()...)
	excs = append(excs, log.drift...)
	sortExceptions(excs)
	sum.Exceptions = excs
	sum.Reconciliation = t.reconciliation(log, tableRows)
	if err := writeExceptions(opts.Out, excs); err != nil {
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
	if err := writeControls(opts.Out, opts); err != nil {
		return nil, err
	}
	if err := writeReport(opts.Out, opts, t, log, sum, now); err != nil {
		return nil, err
	}
	if sum.Files, err = writeManifest(opts.Out, manifestRange(opts), opts.Signer); err != nil {
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

// FormatVerify is the report of `tollgate verify` as written to verify.txt;
// keyName is the key named when no checkpoint says which key signed it.
func FormatVerify(source, keyName string, r audit.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "database:        %s\n", source)
	if !r.OK {
		fmt.Fprintf(&b, "verified:        %s before the first problem\n", countText(r.Size, "entry", "entries"))
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
	fmt.Fprintf(&b, "unsigned tail:   %s after the last signed checkpoint\n", countText(r.UnsignedTail, "entry", "entries"))
	if r.UnsignedTail > 0 {
		fmt.Fprintf(&b, "OK (signed through seq %d; %s after it)\n", r.Size-r.UnsignedTail-1, countText(r.UnsignedTail, "unsigned entry", "unsigned entries"))
	} else {
		fmt.Fprintln(&b, "OK")
	}
	return b.String()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
