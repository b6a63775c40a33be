package evidence

import (
	"fmt"
	"sort"
	"strings"
)

// Reconciliation ties the rows of changes.csv to the audit log and the
// requests table, so the auditor knows the population is complete.
type Reconciliation struct {
	CreatedEntries       int // request.created entries dated in range (and matching the filters)
	Rows                 int // rows of changes.csv
	TableRows            int // requests-table rows created in range (and matching the filters)
	StartedEntries       int // deploy.started entries of those changes
	StartedRows          int // rows with deploy_started
	FinishedEntries      int // deploy.finished and deploy.interrupted entries of those changes
	FinishedRows         int // rows with deploy_finished
	FinishedInRange      int // deploy.finished/interrupted entries dated in range (all changes)
	FinishedEarlier      int // of those, belonging to changes created before the range
	ByState              map[string]int
	AuditFirst, AuditEnd int64 // audit.jsonl holds seq AuditFirst..AuditEnd-1
	LogSize              int64
}

// OK reports whether every count agrees.
func (r Reconciliation) OK() bool {
	return r.CreatedEntries == r.Rows && r.TableRows == r.Rows && r.StartedEntries == r.StartedRows &&
		r.FinishedEntries == r.FinishedRows
}

// Text is reconciliation.txt.
func (r Reconciliation) Text(opts Options) string {
	var b strings.Builder
	mark := func(ok bool) string {
		if ok {
			return "agrees"
		}
		return "DOES NOT AGREE"
	}
	fmt.Fprintf(&b, "Reconciliation of changes.csv with the audit log\n")
	fmt.Fprintf(&b, "range:   %s\n", opts.Range)
	fmt.Fprintf(&b, "filters: repository %s, environment %s\n", orAll(opts.Repo), orAll(opts.Environment))
	fmt.Fprintf(&b, "audit.jsonl: seq %d..%d of a log of %d entries\n\n", r.AuditFirst, r.AuditEnd-1, r.LogSize)
	fmt.Fprintf(&b, "request.created entries dated in range:            %6d\n", r.CreatedEntries)
	fmt.Fprintf(&b, "rows in changes.csv:                               %6d  %s\n", r.Rows, mark(r.Rows == r.CreatedEntries))
	fmt.Fprintf(&b, "requests-table rows created in range:              %6d  %s\n", r.TableRows, mark(r.TableRows == r.Rows))
	fmt.Fprintf(&b, "deploy.started entries of these changes:           %6d\n", r.StartedEntries)
	fmt.Fprintf(&b, "rows with deploy_started:                          %6d  %s\n", r.StartedRows, mark(r.StartedRows == r.StartedEntries))
	fmt.Fprintf(&b, "deploy.finished/interrupted entries of these:      %6d\n", r.FinishedEntries)
	fmt.Fprintf(&b, "rows with deploy_finished:                         %6d  %s\n", r.FinishedRows, mark(r.FinishedRows == r.FinishedEntries))
	fmt.Fprintf(&b, "deploy.finished/interrupted entries dated in range: %5d, of which %d finish changes created before the range\n",
		r.FinishedInRange, r.FinishedEarlier)
	fmt.Fprintf(&b, "\nrows by final state:\n")
	states := make([]string, 0, len(r.ByState))
	for s := range r.ByState {
		states = append(states, s)
	}
	sort.Strings(states)
	for _, s := range states {
		name := s
		if name == "" {
			name = "(no transition recorded)"
		}
		fmt.Fprintf(&b, "  %-20s %6d\n", name, r.ByState[s])
	}
	if r.OK() {
		fmt.Fprintf(&b, "\nRECONCILED: changes.csv is the complete population of requests created in the range.\n")
	} else {
		fmt.Fprintf(&b, "\nNOT RECONCILED: see exceptions.csv for the requests that differ.\n")
	}
	fmt.Fprintf(&b, "A change belongs to the range by the time of its request.created entry; its later entries\n(approvals, deploy) are included even when dated after the range.\n")
	return b.String()
}

func orAll(s string) string {
	if s == "" {
		return "all"
	}
	return s
}
