package evidence

import (
	"github.com/tollgate-dev/tollgate/internal/mfaproof"
)

// Security key assertions (issue 14): every entry of a change that
// carries one (approval.granted, an emergency change's request.created,
// emergency.reviewed) is re-verified offline, from the entry alone, when
// the pack is built. approvals.csv says per approval whether it carried
// one and whether it re-verifies; one that does not is an exception.

// ExcMFAAssertionInvalid flags a recorded security key assertion that
// does not re-verify: its signature, or its binding to what the entry
// records, does not hold.
const ExcMFAAssertionInvalid = "mfa_assertion_invalid"

// mfaCheck is the re-verification of one entry's assertion.
type mfaCheck struct {
	Seq     int64
	Action  string
	Carried bool
	Problem string // why it does not re-verify; "" when it does
}

// observeMFA follows the credentials the log registers (reg, read in log
// order) and re-verifies the assertion e carries, if any, for change c
// (nil when e is about no change of the population).
func observeMFA(reg *mfaproof.Registry, e entry, c *Change) {
	reg.Observe(e.Seq, e.Action, e.Data)
	if c == nil {
		return
	}
	if m := checkMFA(reg, e); m.Carried {
		c.mfa = append(c.mfa, m)
	}
}

// checkMFA re-verifies the assertion e carries, if any.
func checkMFA(reg *mfaproof.Registry, e entry) mfaCheck {
	carried, err := mfaproof.CheckEntry(reg, e.Action, e.Subject, e.Time, e.Data)
	m := mfaCheck{Seq: e.Seq, Action: e.Action, Carried: carried}
	if err != nil {
		m.Problem = err.Error()
	}
	return m
}

// mfaOf returns the check of the change's entry seq.
func (c *Change) mfaOf(seq int64) mfaCheck {
	for _, m := range c.mfa {
		if m.Seq == seq {
			return m
		}
	}
	return mfaCheck{Seq: seq}
}

// mfaColumns are approvals.csv's "mfa" (yes or no) and "mfa_reverifies"
// (yes, "no: why", or empty without an assertion) of the approval at seq.
func (c *Change) mfaColumns(seq int64) []string {
	m := c.mfaOf(seq)
	switch {
	case !m.Carried:
		return []string{"no", ""}
	case m.Problem != "":
		return []string{"yes", "no: " + m.Problem}
	}
	return []string{"yes", "yes"}
}

// mfaExceptions lists every recorded assertion of the population that
// does not re-verify.
func mfaExceptions(ds *dataset) []Exception {
	var out []Exception
	for _, c := range ds.changes {
		for _, m := range c.mfa {
			if m.Carried && m.Problem != "" {
				out = append(out, Exception{Code: ExcMFAAssertionInvalid, RequestID: c.ID, Seq: m.Seq,
					Detail: "the security key assertion in " + m.Action + " does not re-verify: " + m.Problem})
			}
		}
	}
	return out
}
