package evidence

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
)

// Change is one request in the population: what the audit log says about
// it, from request.created to its end, and its row in the requests table.
type Change struct {
	ID         string
	Created    createdData
	CreatedAt  time.Time
	CreatedSeq int64
	Decision   *bot.Decision // its outcome only: Allowed, Code and Ticket (decision has the checks)
	Approvals  []Approval
	Started    time.Time
	StartedSeq int64
	Finished   time.Time
	FinishSeq  int64
	Finish     *finishedData // without its steps (finish has them)
	Outcome    string        // final state from the last request.state, "" when none
	Reason     string        // the reason of the last transition
	RolledBack bool
	// Attestation is the digest of the release's attestation as the
	// release.attested entry records it; "" when there is none.
	Attestation string
	Review      *EmergencyReview
	Seqs        []int64
	Table       *bot.Request // the requests table's row, what evidence reads of it (loadTable); nil when it has none

	startedEntries, finishedEntries int
	decisionData                    json.RawMessage // the policy.decided entry's data, for decision
	finishData                      json.RawMessage // the deploy.finished/interrupted entry's data, for finish
	finishInterrupted               bool
	prData                          json.RawMessage // the requests table's PR, for pullRequest
	stateData                       json.RawMessage // the last request.state entry's data, for settle
}

// settle completes a change whose entries have all been added: its final
// state and the reason of the last transition.
func (c *Change) settle() {
	if c.stateData != nil {
		d := decode[stateData](entry{Data: c.stateData})
		c.Outcome, c.Reason, c.stateData = d.To, d.Reason, nil
	}
}

// finish is the whole deploy outcome, with its steps.
func (c *Change) finish() *finishedData {
	if c.Finish == nil {
		return nil
	}
	d := decode[finishedData](entry{Data: c.finishData})
	if c.finishInterrupted {
		d.Result = string(bot.StateInterrupted)
	}
	return &d
}

// pullRequest is the requests table's whole PR (body, refs, reviews).
func (c *Change) pullRequest() *bot.PullRequest {
	if c.Table == nil || c.Table.PR == nil {
		return nil
	}
	var pr *bot.PullRequest
	_ = json.Unmarshal(c.prData, &pr)
	return pr
}

// decision is the whole policy decision, with every check it made.
func (c *Change) decision() *bot.Decision {
	if c.Decision == nil {
		return nil
	}
	d := decode[bot.Decision](entry{Data: c.decisionData})
	return &d
}

// Approval is one approval.granted of a change.
type Approval struct {
	Approver   string
	ApproverID int64
	At         time.Time
	Seq        int64
	ExpiresAt  time.Time
	Teams      []string
	Required   int
	RevokedAt  time.Time
}

// expiredBy reports whether the approval had expired at t; an approval
// recorded without an expiry never expires.
func (a Approval) expiredBy(t time.Time) bool { return !a.ExpiresAt.IsZero() && !a.ExpiresAt.After(t) }

// EmergencyReview is the after-the-fact review of an emergency change,
// from the emergency.* audit entries.
type EmergencyReview struct {
	OpenedAt   time.Time
	DueAt      time.Time
	Reminders  int
	OverdueAt  time.Time
	Outcome    string
	Reviewer   string
	Note       string
	ReviewedAt time.Time
}

// add folds one audit entry about the change into it.
func (c *Change) add(e entry) {
	c.Seqs = append(c.Seqs, e.Seq)
	switch e.Action {
	case bot.ActionPolicyDecided:
		// The outcome now; the checks only if the change is sampled (decision).
		d := decode[struct {
			Allowed bool            `json:"allowed"`
			Code    bot.RefusalCode `json:"code"`
			Ticket  string          `json:"ticket"`
		}](e)
		c.Decision = &bot.Decision{Allowed: d.Allowed, Code: d.Code, Ticket: d.Ticket}
		c.decisionData = append(c.decisionData[:0], e.Data...)
	case bot.ActionApprovalGranted:
		d := decode[approvalData](e)
		c.Approvals = append(c.Approvals, Approval{Approver: d.Approver, ApproverID: d.ApproverID, At: e.Time,
			Seq: e.Seq, ExpiresAt: d.ExpiresAt, Teams: d.Teams, Required: d.Required})
	case bot.ActionApprovalRevoked:
		d := decode[approvalData](e)
		for i := range c.Approvals {
			a := &c.Approvals[i]
			if a.RevokedAt.IsZero() && (a.ApproverID == d.ApproverID && d.ApproverID != 0 || strings.EqualFold(a.Approver, d.Approver)) {
				a.RevokedAt = e.Time
			}
		}
	case bot.ActionDeployStarted:
		c.Started, c.StartedSeq = e.Time, e.Seq
		c.startedEntries++
	case bot.ActionDeployFinished, bot.ActionDeployInterrupted:
		// What the rows need now; the steps only if the change is sampled.
		d := decode[struct {
			Result         string   `json:"result"`
			Release        string   `json:"release"`
			ManifestDigest string   `json:"manifest_digest"`
			FilesSent      int      `json:"files_sent"`
			BytesSent      int64    `json:"bytes_sent"`
			Servers        []string `json:"servers"`
		}](e)
		f := finishedData{Result: d.Result, Release: d.Release, ManifestDigest: d.ManifestDigest,
			FilesSent: d.FilesSent, BytesSent: d.BytesSent, Servers: d.Servers}
		if e.Action == bot.ActionDeployInterrupted {
			f.Result = string(bot.StateInterrupted)
		}
		c.Finished, c.FinishSeq, c.Finish = e.Time, e.Seq, &f
		c.finishData, c.finishInterrupted = append(c.finishData[:0], e.Data...), e.Action == bot.ActionDeployInterrupted
		c.finishedEntries++
	case bot.ActionDeployRolledBack:
		c.RolledBack = true
	case store.ActionReleaseAttested:
		c.Attestation = decode[struct {
			Digest string `json:"digest"`
		}](e).Digest
	case bot.ActionRequestState: // only the last one counts: decoded by settle
		c.stateData = append(c.stateData[:0], e.Data...)
	case actionEmergencyReviewOpened, actionEmergencyReviewed, actionEmergencyReminded, actionEmergencyOverdue:
		c.addReview(e)
	}
}

func (c *Change) addReview(e entry) {
	if c.Review == nil {
		c.Review = &EmergencyReview{}
	}
	d := decode[reviewData](e)
	r := c.Review
	switch e.Action {
	case actionEmergencyReviewOpened:
		r.OpenedAt, r.DueAt = e.Time, d.DueAt
	case actionEmergencyReminded:
		r.Reminders++
	case actionEmergencyOverdue:
		r.OverdueAt = e.Time
	case actionEmergencyReviewed:
		r.Outcome, r.Reviewer, r.Note, r.ReviewedAt = d.Outcome, d.Reviewer, d.Note, e.Time
		if !d.DueAt.IsZero() {
			r.DueAt = d.DueAt
		}
	}
}

// ValidApprovals returns the approvals in force when the deploy started:
// given before it, not revoked before it and not expired by then
// (approval_ttl), one per person.
func (c *Change) ValidApprovals() []Approval {
	var out []Approval
	for _, a := range c.Approvals {
		if !c.Started.IsZero() && (a.At.After(c.Started) || !a.RevokedAt.IsZero() && !a.RevokedAt.After(c.Started) ||
			a.expiredBy(c.Started)) {
			continue
		}
		if c.Started.IsZero() && !a.RevokedAt.IsZero() {
			continue
		}
		dup := false
		for _, b := range out {
			dup = dup || strings.EqualFold(a.Approver, b.Approver)
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}

// Emergency reports whether the change took the emergency path.
func (c *Change) Emergency() bool { return c.Created.Trigger == string(bot.TriggerEmergency) }

// Deployed reports whether a deploy started.
func (c *Change) Deployed() bool { return !c.Started.IsZero() }

// WentLive reports whether the change put a release live on servers: its
// deploy (or rollback) succeeded with a release, as deploys to SSH targets
// do (an Actions-gated deploy names none).
func (c *Change) WentLive() bool {
	return c.Finish != nil && c.Finish.Result == string(bot.StateSucceeded) && c.Finish.Release != ""
}

// changeBatch is how many changes wait for their requests-table rows,
// which are read for the whole batch in one query.
const changeBatch = 256

// eachChange streams the population in creation order through a pipeline
// of three goroutines, each holding a batch or two: one reads the entries
// of every change, from its request.created on, in one query ordered by
// (creation seq, seq) through the subject index, up to the log size the
// pass over the log saw, and folds them into changes; one reads the
// requests-table rows of each batch; the caller's visit sees each change
// once, complete, in order. Nothing else is held.
func eachChange(ctx context.Context, st *store.Store, opts Options, log *logSummary, visit func(*Change) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	read, loaded := make(chan []*Change, 2), make(chan []*Change, 2)
	errs := make(chan error, 2)
	go func() {
		defer close(read)
		errs <- stopOnError(readChanges(ctx, st, opts, log, read), cancel)
	}()
	go func() {
		defer close(loaded)
		errs <- stopOnError(loadBatches(ctx, st, read, loaded), cancel)
	}()
	var visitErr error
	for batch := range loaded {
		for _, c := range batch {
			if visitErr != nil {
				break // drain, so the others end
			}
			if visitErr = visit(c); visitErr != nil {
				cancel()
			}
		}
	}
	e1, e2 := <-errs, <-errs
	if visitErr != nil {
		return visitErr
	}
	for _, err := range []error{e1, e2} { // the failure, not the other stage's cancellation
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return cmp.Or(e1, e2)
}

// stopOnError cancels the pipeline when a stage fails.
func stopOnError(err error, cancel context.CancelFunc) error {
	if err != nil {
		cancel()
	}
	return err
}

// send settles the changes of a batch and passes it down the pipeline
// unless it was stopped.
func send(ctx context.Context, out chan<- []*Change, batch []*Change) error {
	for _, c := range batch {
		c.settle()
	}
	select {
	case out <- batch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loadBatches reads the requests-table rows of each batch.
func loadBatches(ctx context.Context, st *store.Store, in <-chan []*Change, out chan<- []*Change) error {
	for batch := range in {
		ids := make([]string, len(batch))
		digests := map[string]string{}
		for i, c := range batch {
			ids[i] = c.ID
			if c.Finish != nil {
				digests[c.ID] = c.Finish.ManifestDigest
			}
		}
		table, err := loadTable(ctx, st.DB(), ids, digests)
		if err != nil {
			return err
		}
		for _, c := range batch {
			if r := table[c.ID]; r != nil {
				c.Table, c.prData = r.req, r.prData
			}
		}
		if err := send(ctx, out, batch); err != nil {
			return err
		}
	}
	return nil
}

// readChanges folds the population's entries into changes and sends them
// in batches of changeBatch complete changes.
func readChanges(ctx context.Context, st *store.Store, opts Options, log *logSummary, out chan<- []*Change) error {
	// The subject is read once per change, from its request.created row.
	rows, err := st.DB().QueryContext(ctx, `SELECT c.seq, a.seq, a.at, a.action, a.data,
		CASE WHEN a.seq = c.seq THEN a.subject ELSE '' END
		FROM audit_entries c JOIN audit_entries a ON a.subject = c.subject AND a.seq >= c.seq
		WHERE c.action = ? AND c.seq >= ? AND c.seq < ? AND a.seq < ?
		ORDER BY c.seq, a.seq`, bot.ActionRequestCreated, log.first, log.end, log.size)
	if err != nil {
		return fmt.Errorf("read the changes' audit entries: %w", err)
	}
	defer rows.Close()
	match := func(repo, env string) bool {
		return (opts.Repo == "" || strings.EqualFold(repo, opts.Repo)) && (opts.Environment == "" || env == opts.Environment)
	}
	var batch []*Change
	var cur *Change
	group, skip := int64(-1), false
	var data sql.RawBytes // decoded by add, never kept
	for rows.Next() {
		var created int64
		var e entry
		var subject string
		if err := rows.Scan(&created, &e.Seq, &e.At, &e.Action, &data, &subject); err != nil {
			return fmt.Errorf("read the changes' audit entries: %w", err)
		}
		e.Data = json.RawMessage(data)
		e.Time, _ = time.Parse(time.RFC3339Nano, e.At)
		e.Subject = subject
		if created == group && cur != nil {
			e.Subject = cur.ID // every entry of a group has the subject of its request.created
		}
		if created != group { // the first row of a group is its request.created entry
			if len(batch) > changeBatch { // every change in it is complete
				if err := send(ctx, out, batch); err != nil {
					return err
				}
				batch = nil
			}
			group, skip, cur = created, true, nil
			if e.Seq == created && opts.Range.Contains(e.Time) {
				d := decode[createdData](e)
				if match(d.Repo, d.Environment) {
					cur, skip = &Change{ID: e.Subject, Created: d, CreatedAt: e.Time, CreatedSeq: e.Seq}, false
					batch = append(batch, cur)
				}
			}
		}
		if !skip {
			cur.add(e)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the changes' audit entries: %w", err)
	}
	if len(batch) > 0 {
		return send(ctx, out, batch)
	}
	return nil
}
