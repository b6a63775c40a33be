package evidence

import (
	"bytes"
	"slices"
	"sort"

	"github.com/tollgate-dev/tollgate/internal/mfaproof"
)

// Security key assertions (issue 14): every entry of a change of the
// population that carries one (approval.granted, an emergency change's
// request.created, emergency.reviewed) is re-verified offline when the
// pack is built, in the pass over the whole log, against the keys the log
// registered by then. approvals.csv says per approval whether it carried
// one and whether it re-verifies; one that does not is an exception.

// ExcMFAAssertionInvalid flags a recorded security key assertion that
// does not re-verify: its signature, or its binding to what the entry
// records, does not hold.
const ExcMFAAssertionInvalid = "mfa_assertion_invalid"

// mfaCheck is the re-verification of one entry's assertion.
type mfaCheck struct {
	Seq       int64
	Action    string
	RequestID string
	Problem   string // why it does not re-verify; "" when it does
}

// mfaChecks follows the log's credentials and keeps the check of every
// assertion of the population, by seq: a few per change at most.
type mfaChecks struct {
	reg   *mfaproof.Registry
	bySeq map[int64]mfaCheck
}

func newMFAChecks() *mfaChecks {
	return &mfaChecks{reg: mfaproof.NewRegistry(), bySeq: map[int64]mfaCheck{}}
}

// mfaAction reports whether the pass must read an action's data for this
// check: a credential entry, or one that may carry an assertion.
func mfaAction(action string) bool {
	return slices.Contains(credentialActions, action) || slices.Contains(mfaproof.Actions, action)
}

// observe reads one entry in log order; population says whether it is
// about a change of the population.
func (m *mfaChecks) observe(e entry, population bool) {
	m.reg.Observe(e.Seq, e.Action, e.Data)
	// Canonical JSON: an entry without the key carries no assertion, and
	// most approvals need no decoding to say so.
	if !population || !slices.Contains(mfaproof.Actions, e.Action) || !bytes.Contains(e.Data, []byte(`"mfa":`)) {
		return
	}
	carried, err := mfaproof.CheckEntry(m.reg, e.Action, e.Subject, e.Time, e.Data)
	if !carried {
		return
	}
	c := mfaCheck{Seq: e.Seq, Action: e.Action, RequestID: e.Subject}
	if err != nil {
		c.Problem = err.Error()
	}
	m.bySeq[e.Seq] = c
}

// columns are approvals.csv's "mfa" (yes or no) and "mfa_reverifies"
// (yes, "no: why", or empty without an assertion) of the approval at seq.
func (m *mfaChecks) columns(seq int64) []string {
	c, ok := m.bySeq[seq]
	switch {
	case !ok:
		return []string{"no", ""}
	case c.Problem != "":
		return []string{"yes", "no: " + c.Problem}
	}
	return []string{"yes", "yes"}
}

// exceptions lists every assertion of the population that does not
// re-verify, in log order.
func (m *mfaChecks) exceptions() []Exception {
	var out []Exception
	for _, c := range m.bySeq {
		if c.Problem != "" {
			out = append(out, Exception{Code: ExcMFAAssertionInvalid, RequestID: c.RequestID, Seq: c.Seq,
				Detail: "the security key assertion in " + c.Action + " does not re-verify: " + c.Problem})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}
