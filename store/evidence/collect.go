package evidence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/mfaproof"
)

// Change is one request in the population: what the audit log says about
// it, from request.created to its end, and its row in the requests table.
type Change struct {
	ID         string
	Created    createdData
	CreatedAt  time.Time
	CreatedSeq int64
	Decision   *bot.Decision
	Approvals  []Approval
	Started    time.Time
	StartedSeq int64
	Finished   time.Time
	FinishSeq  int64
	Finish     *finishedData
	Outcome    string // final state from the last request.state, "" when none
	Reason     string // the reason of the last transition
	RolledBack bool
	Review     *EmergencyReview
	Seqs       []int64
	Table      *bot.Request // the requests table's row; nil when it has none

	startedEntries, finishedEntries int
	mfa                             []mfaCheck // entries carrying a security key assertion (mfa.go)
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

// Event is one audit entry listed in a CSV other than changes.csv.
type Event struct {
	Seq         int64
	At          time.Time
	Actor       string
	Action      string
	Subject     string
	Repo        string
	Environment string
	entry       entry
}

// dataset is everything read from the audit log for one pack.
type dataset struct {
	rng       Range
	first     int64 // audit.jsonl is seq first..end-1
	end       int64
	size      int64
	changes   []*Change
	byID      map[string]*Change
	refusals  []Event
	access    []Event
	locks     []Event
	reviews   []Event
	inRange   map[string]int // action → entries dated in range
	freezeRef int
	now       time.Time

	finishedInRange int // deploy.finished/interrupted dated in range, filters applied
	finishedEarlier int // of those, finishing changes created before the range
}

// where is a request's repository and environment, remembered for entries
// that name only the request.
type where struct{ repo, env string }

// collect reads the whole log once. A request belongs to the population
// when its request.created entry is dated in the range and matches the
// filters; every later entry about it is collected, even after the range,
// so a change created in range is followed to its end.
func collect(ctx context.Context, db *sql.DB, opts Options) (*dataset, error) {
	ds := &dataset{rng: opts.Range, first: -1, byID: map[string]*Change{}, inRange: map[string]int{}}
	places, keys := map[string]where{}, mfaproof.NewRegistry()
	match := func(repo, env string) bool {
		return (opts.Repo == "" || strings.EqualFold(repo, opts.Repo)) && (opts.Environment == "" || env == opts.Environment)
	}
	err := scanLog(ctx, db, func(e entry) error {
		ds.size = e.Seq + 1
		in := opts.Range.Contains(e.Time)
		if in {
			if ds.first < 0 {
				ds.first = e.Seq
			}
			ds.end = e.Seq + 1
			ds.inRange[e.Action]++
		}
		if e.Action == bot.ActionRequestCreated {
			d := decode[createdData](e)
			places[e.Subject] = where{d.Repo, d.Environment}
			if in && match(d.Repo, d.Environment) {
				c := &Change{ID: e.Subject, Created: d, CreatedAt: e.Time, CreatedSeq: e.Seq}
				ds.changes = append(ds.changes, c)
				ds.byID[c.ID] = c
			}
		}
		if c := ds.byID[e.Subject]; c != nil {
			c.add(e)
		}
		observeMFA(keys, e, ds.byID[e.Subject])
		if !in {
			return nil
		}
		ev := Event{Seq: e.Seq, At: e.Time, Actor: e.Actor, Action: e.Action, Subject: e.Subject, entry: e}
		ev.Repo, ev.Environment = eventPlace(e, places)
		if !match(ev.Repo, ev.Environment) && (ev.Repo != "" || opts.Repo != "" || opts.Environment != "") {
			return nil
		}
		switch e.Action {
		case bot.ActionDeployFinished, bot.ActionDeployInterrupted:
			ds.finishedInRange++
			if ds.byID[e.Subject] == nil {
				ds.finishedEarlier++
			}
		case bot.ActionPolicyDecided:
			if d := decode[bot.Decision](e); !d.Allowed {
				ds.refusals = append(ds.refusals, ev)
				if d.Code == bot.CodeFrozen {
					ds.locks = append(ds.locks, ev)
					ds.freezeRef++
				}
			}
		case bot.ActionApprovalRefused, bot.ActionActionRefused:
			ds.refusals = append(ds.refusals, ev)
		case bot.ActionAccessRevoked, bot.ActionIdentityLinked, bot.ActionIdentityUnlinked, bot.ActionApprovalRevoked,
			actionAccessReconciled, actionAccessGranted:
			ds.access = append(ds.access, ev)
		case bot.ActionLockAcquired, bot.ActionLockReleased, actionLockReminded:
			ds.locks = append(ds.locks, ev)
		case actionAccessReviewSnapshot, actionAccessReviewSignedOff:
			ds.reviews = append(ds.reviews, ev)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ds.first < 0 {
		ds.first, ds.end = 0, 0
	}
	return ds, nil
}

// eventPlace finds the repository and environment an entry is about: in
// its data, from the request it names, or from a "owner/repo env" subject.
func eventPlace(e entry, places map[string]where) (string, string) {
	d := decode[struct {
		Repo        string `json:"repo"`
		Environment string `json:"environment"`
	}](e)
	if d.Repo != "" {
		return d.Repo, d.Environment
	}
	if w, ok := places[e.Subject]; ok {
		return w.repo, w.env
	}
	if repo, env, ok := strings.Cut(e.Subject, " "); ok && strings.Contains(repo, "/") {
		return repo, env
	}
	return "", ""
}

// add folds one audit entry about the change into it.
func (c *Change) add(e entry) {
	c.Seqs = append(c.Seqs, e.Seq)
	switch e.Action {
	case bot.ActionPolicyDecided:
		d := decode[bot.Decision](e)
		c.Decision = &d
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
		d := decode[finishedData](e)
		if e.Action == bot.ActionDeployInterrupted {
			d.Result = string(bot.StateInterrupted)
		}
		c.Finished, c.FinishSeq, c.Finish = e.Time, e.Seq, &d
		c.finishedEntries++
	case bot.ActionDeployRolledBack:
		c.RolledBack = true
	case bot.ActionRequestState:
		d := decode[stateData](e)
		c.Outcome, c.Reason = d.To, d.Reason
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
// given before it and not revoked before it, one per person.
func (c *Change) ValidApprovals() []Approval {
	var out []Approval
	for _, a := range c.Approvals {
		if !c.Started.IsZero() && (a.At.After(c.Started) || !a.RevokedAt.IsZero() && !a.RevokedAt.After(c.Started)) {
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

// loadTable reads each change's requests-table row.
func (ds *dataset) loadTable(ctx context.Context, get func(ctx context.Context, id string) (bot.Request, error)) error {
	for _, c := range ds.changes {
		r, err := get(ctx, c.ID)
		if err != nil {
			if errors.Is(err, bot.ErrNotFound) {
				continue
			}
			return fmt.Errorf("read request %s: %w", c.ID, err)
		}
		c.Table = &r
	}
	return nil
}
