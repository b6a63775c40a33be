package evidence

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// The streaming steps of Build: the population's CSVs and sample, the
// exceptions, audit.jsonl, and the background work beside them.

// writeChanges streams the population into changes.csv, approvals.csv
// and emergency_changes.csv, checks each change's controls, counts it in
// the tally and writes the sample folder of each drawn change, and returns
// the changes' exceptions. Memory holds the exceptions, not the changes.
func writeChanges(ctx context.Context, st *store.Store, opts Options, log *logSummary, t *tally, sum *Summary, now time.Time) ([]Exception, error) {
	changes, err := createCSV(opts.Out, "changes.csv", changesHeader)
	if err != nil {
		return nil, err
	}
	approvals, err := createCSV(opts.Out, "approvals.csv", approvalsHeader)
	if err != nil {
		changes.close()
		return nil, err
	}
	emergency, err := createCSV(opts.Out, "emergency_changes.csv", emergencyHeader)
	if err != nil {
		changes.close()
		approvals.close()
		return nil, err
	}
	production, within := opts.production(), opts.reviewWithin()
	drawn := sampleOrdinals(log.deployed, opts.SampleSize, opts.Seed)
	deployed := 0
	var excs []Exception
	err = eachChange(ctx, st, opts, log, func(c *Change) error {
		repo, env := c.Created.Repo, c.Created.Environment
		sum.Changes++
		es := changeExceptions(c, production(repo, env), within(repo, env), now)
		codes := make([]string, len(es))
		for i, e := range es {
			codes[i] = e.Code
		}
		excs = append(excs, es...)
		changes.row(changeRow(c, production(repo, env), codes))
		for _, r := range approvalRows(c, log.mfa) {
			approvals.row(r)
		}
		if c.Emergency() {
			emergency.row(emergencyRow(c, within(repo, env), now))
		}
		t.add(c, production(repo, env))
		if !c.Deployed() {
			return nil
		}
		sum.Deployed++
		k := deployed
		deployed++
		if len(drawn) == 0 || drawn[0] != k {
			return nil
		}
		drawn = drawn[1:]
		p, u, err := writeSample(ctx, st.Audit(), opts.Out, c)
		sum.Sampled, sum.Proofs, sum.Unproven = sum.Sampled+1, sum.Proofs+p, sum.Unproven+u
		t.samples = append(t.samples, c.ID)
		if err != nil {
			return err
		}
		return writeAttestation(ctx, st, opts.Out, c)
	})
	for _, f := range []*csvFile{changes, approvals, emergency} {
		if cerr := f.close(); err == nil {
			err = cerr
		}
	}
	if err == nil && deployed != log.deployed {
		err = fmt.Errorf("evidence: %d changes of the population were deployed in the second pass, %d in the first", deployed, log.deployed)
	}
	return excs, err
}

// writeExceptions writes exceptions.csv.
func writeExceptions(dir string, excs []Exception) error {
	f, err := createCSV(dir, "exceptions.csv", exceptionsHeader)
	if err != nil {
		return err
	}
	for _, e := range excs {
		f.row(exceptionRow(e))
	}
	return f.close()
}

// writeAuditRange writes audit.jsonl (the entries of the range, streamed
// from the database), its segment proof audit.proof and checkpoint.txt.
func writeAuditRange(ctx context.Context, st *store.Store, dir string, log *logSummary, trusted int64) error {
	if err := writeEntries(ctx, st.DB(), filepath.Join(dir, "audit.jsonl"), log.first, log.end, trusted); err != nil {
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
	if err := writeMFACredentials(ctx, st, dir, log.first); err != nil {
		return err
	}
	p, err := proveSegment(ctx, st.DB(), st.Audit(), "audit.jsonl", log.first, log.end-log.first, cp)
	if err != nil {
		return fmt.Errorf("prove audit.jsonl: %w", err)
	}
	return writeFile(filepath.Join(dir, "audit.proof"), p.Format())
}

// signedThrough is the size of the tree the last verified checkpoint
// signed: the entries below it are exactly what was appended and signed.
func signedThrough(r audit.Report) int64 {
	if !r.HasCheckpoint {
		return 0
	}
	return r.LastCheckpoint.Size
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
		out = append(out, Exception{Code: ExcUnsignedTail, Seq: r.Size - r.UnsignedTail, Detail: unsignedTailText(r)})
	}
	return out
}

// background is work running beside Build's main line; wait returns its
// result, as often as asked.
type background[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func inBackground[T any](f func() (T, error)) *background[T] {
	b := &background[T]{done: make(chan struct{})}
	go func() {
		defer close(b.done)
		b.v, b.err = f()
	}()
	return b
}

func (b *background[T]) wait() (T, error) {
	<-b.done
	return b.v, b.err
}

// unsignedTailText says which entries no signed checkpoint covers yet.
func unsignedTailText(r audit.Report) string {
	if r.UnsignedTail == 1 {
		return fmt.Sprintf("1 entry (seq %d) is after the last signed checkpoint: consistent, but no signature covers it", r.Size-1)
	}
	return fmt.Sprintf("%d entries (seq %d..%d) are after the last signed checkpoint: consistent, but no signature covers them",
		r.UnsignedTail, r.Size-r.UnsignedTail, r.Size-1)
}
