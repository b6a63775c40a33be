package evidence

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/audit"
)

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

// logSummary is what the pass over the whole log found, besides the rows
// of the event CSVs it wrote on the way.
type logSummary struct {
	first, end int64 // audit.jsonl is seq first..end-1
	size       int64 // the log's size when the pass ran; later entries are not read
	// finishedInRange counts deploy.finished/interrupted dated in range,
	// filters applied; finishedEarlier those finishing changes created before.
	finishedInRange, finishedEarlier int
	refusals                         int
	refusalCodes                     map[string]float64
	// deployed counts the population's changes whose deploy started: the
	// pool the sample is drawn from.
	deployed int
	mfa      *mfaChecks // the population's security key assertions, re-verified
	// drift holds an exception per release.drift_detected in range: a
	// server that did not run what Tollgate put live.
	drift []Exception
}

// request is what the pass keeps of each request it saw created: where it
// is (entries that name only the request need it), and for a change of the
// population who asked and whether its deploy started. Strings are
// interned: a handful of repositories, environments and people repeat.
type request struct {
	repo, env, requester string
	inPopulation         bool
	deployed             bool
}

// logPass is the state of the pass over the whole log.
type logPass struct {
	opts     Options
	sum      *logSummary
	requests map[string]*request
	intern   map[string]string
	out      *eventFiles
	mfa      *mfaChecks // security key assertions (mfa.go)
}

// newLogPass returns the pass over the whole log, in seq order, that
// audit.VerifyEach drives (row): it finds the range's seq run, marks the
// population (requests whose request.created is dated in the range and
// matches the filters) and writes the rows of refusals.csv,
// access_changes.csv, access_reviews.csv and locks_and_freezes.csv as it
// meets their entries. It holds a few dozen bytes per request, never an
// entry.
func newLogPass(opts Options, out *eventFiles) *logPass {
	p := &logPass{opts: opts, out: out, requests: map[string]*request{}, intern: map[string]string{},
		sum: &logSummary{first: -1, refusalCodes: map[string]float64{}, mfa: newMFAChecks()}}
	p.mfa = p.sum.mfa
	return p
}

// summary is what the pass found, once it has seen every row.
func (p *logPass) summary() *logSummary {
	if p.sum.first < 0 {
		p.sum.first, p.sum.end = 0, 0
	}
	return p.sum
}

// row hands one row to visit, as an entry holding only what the pass
// reads of its action: the actor, subject and data of the actions it
// lists or follows, and no copy of anything else.
func (p *logPass) row(r audit.Row) error {
	e := entry{Seq: r.Seq, At: string(r.At), Action: p.internBytes(r.Action)}
	// A malformed time stays zero; verify.txt names the entry through its hash.
	e.Time, _ = time.Parse(time.RFC3339Nano, e.At)
	switch listed := listedAction(e.Action); {
	case listed || e.Action == bot.ActionRequestCreated || mfaAction(e.Action):
		e.Actor, e.Data = string(r.Actor), json.RawMessage(r.Data)
		fallthrough
	case e.Action == bot.ActionDeployStarted:
		e.Subject = string(r.Subject)
	}
	return p.visit(e)
}

// internBytes is str for a name read as bytes: the few action names are
// allocated once.
func (p *logPass) internBytes(b []byte) string {
	if v, ok := p.intern[string(b)]; ok {
		return v
	}
	return p.str(string(b))
}

func (p *logPass) str(s string) string {
	if v, ok := p.intern[s]; ok {
		return v
	}
	p.intern[s] = s
	return s
}

func (p *logPass) match(repo, env string) bool {
	return (p.opts.Repo == "" || strings.EqualFold(repo, p.opts.Repo)) && (p.opts.Environment == "" || env == p.opts.Environment)
}

// visit handles one entry; e.Data is only valid during the call.
func (p *logPass) visit(e entry) error {
	s := p.sum
	s.size = e.Seq + 1
	in := p.opts.Range.Contains(e.Time)
	if in {
		if s.first < 0 {
			s.first = e.Seq
		}
		s.end = e.Seq + 1
	}
	switch e.Action {
	case bot.ActionRequestCreated:
		d := decode[struct {
			Repo        string `json:"repo"`
			Environment string `json:"environment"`
			Requester   string `json:"requester"`
		}](e)
		r := p.requests[e.Subject]
		if r == nil {
			r = &request{}
			p.requests[e.Subject] = r
		}
		r.repo, r.env = p.str(d.Repo), p.str(d.Environment)
		if in && p.match(d.Repo, d.Environment) {
			// A change of the population (a later one with the same id takes
			// over; the earlier one keeps its count).
			r.requester, r.inPopulation, r.deployed = p.str(d.Requester), true, false
		}
	case bot.ActionDeployStarted:
		if r := p.requests[e.Subject]; r != nil && r.inPopulation {
			if was, now := r.deployed, !e.Time.IsZero(); was != now {
				r.deployed = now
				if now {
					s.deployed++
				} else {
					s.deployed--
				}
			}
		}
	}
	if mfaAction(e.Action) {
		r := p.requests[e.Subject]
		p.mfa.observe(e, r != nil && r.inPopulation)
	}
	if !in || !listedAction(e.Action) {
		return nil
	}
	ev := Event{Seq: e.Seq, At: e.Time, Actor: e.Actor, Action: e.Action, Subject: e.Subject, entry: e}
	filtered := p.opts.Repo != "" || p.opts.Environment != ""
	if !filtered && (e.Action == bot.ActionDeployFinished || e.Action == bot.ActionDeployInterrupted) {
		return p.event(ev) // only counted: without filters, where it ran does not matter
	}
	ev.Repo, ev.Environment = p.place(e)
	if !p.match(ev.Repo, ev.Environment) && (ev.Repo != "" || filtered) {
		return nil
	}
	return p.event(ev)
}

// listedActions are the actions whose entries are counted or listed
// beyond audit.jsonl and changes.csv.
var listedActions = []string{bot.ActionDeployFinished, bot.ActionDeployInterrupted, bot.ActionPolicyDecided,
	bot.ActionApprovalRefused, bot.ActionActionRefused, bot.ActionAccessRevoked, bot.ActionIdentityLinked,
	bot.ActionIdentityUnlinked, bot.ActionApprovalRevoked, actionAccessReconciled, actionAccessGranted,
	bot.ActionLockAcquired, bot.ActionLockReleased, actionLockReminded, actionAccessReviewSnapshot,
	actionAccessReviewSignedOff, bot.ActionDriftDetected}

func listedAction(action string) bool { return slices.Contains(listedActions, action) }

// event counts or writes one in-range entry that matches the filters.
func (p *logPass) event(ev Event) error {
	s := p.sum
	switch ev.Action {
	case bot.ActionDeployFinished, bot.ActionDeployInterrupted:
		s.finishedInRange++
		if r := p.requests[ev.Subject]; r == nil || !r.inPopulation {
			s.finishedEarlier++
		}
	case bot.ActionPolicyDecided:
		// Canonical JSON sorts keys, and "allowed" is the decision's first:
		// most decisions are allowed, and need no decoding to say so.
		if bytes.HasPrefix(ev.entry.Data, []byte(`{"allowed":true,`)) {
			return nil
		}
		d := decode[struct {
			Allowed bool            `json:"allowed"`
			Code    bot.RefusalCode `json:"code"`
		}](ev.entry)
		if d.Allowed {
			return nil
		}
		if err := p.refusal(ev, string(d.Code)); err != nil {
			return err
		}
		if d.Code == bot.CodeFrozen {
			requester, _ := p.requester(ev.Subject)
			return p.out.locks.row(lockRow(ev, requester))
		}
	case bot.ActionApprovalRefused:
		return p.refusal(ev, decode[approvalData](ev.entry).Code)
	case bot.ActionActionRefused:
		return p.refusal(ev, decode[refusedData](ev.entry).Code)
	case bot.ActionAccessRevoked, bot.ActionIdentityLinked, bot.ActionIdentityUnlinked, bot.ActionApprovalRevoked,
		actionAccessReconciled, actionAccessGranted:
		return p.out.access.row(accessChangeRow(ev))
	case bot.ActionLockAcquired, bot.ActionLockReleased, actionLockReminded:
		return p.out.locks.row(lockRow(ev, ""))
	case actionAccessReviewSnapshot, actionAccessReviewSignedOff:
		return p.out.reviews.row(accessReviewRow(ev))
	case bot.ActionDriftDetected:
		s.drift = append(s.drift, driftException(ev))
	}
	return nil
}

// refusal writes a refusals.csv row and counts it by code for the chart.
func (p *logPass) refusal(ev Event, code string) error {
	p.sum.refusals++
	if code == "" {
		code = "(none)"
	}
	p.sum.refusalCodes[code]++
	requester, known := p.requester(ev.Subject)
	return p.out.refusals.row(refusalRow(ev, requester, known))
}

// requester is who asked for a change of the population; known is false
// for any other request.
func (p *logPass) requester(id string) (requester string, known bool) {
	if r := p.requests[id]; r != nil && r.inPopulation {
		return r.requester, true
	}
	return "", false
}

// place finds the repository and environment an entry is about: in its
// data, from the request it names, or from a "owner/repo env" subject.
func (p *logPass) place(e entry) (string, string) {
	if bytes.Contains(e.Data, []byte(`"repo"`)) || bytes.Contains(e.Data, []byte(`\u`)) { // else decoding finds no repo
		var d struct {
			Repo        string `json:"repo"`
			Environment string `json:"environment"`
		}
		_ = json.Unmarshal(e.Data, &d)
		if d.Repo != "" {
			return d.Repo, d.Environment
		}
	}
	if r, ok := p.requests[e.Subject]; ok {
		return r.repo, r.env
	}
	if repo, env, ok := strings.Cut(e.Subject, " "); ok && strings.Contains(repo, "/") {
		return repo, env
	}
	return "", ""
}
