package evidence

import (
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// population counts the deployed changes of a pack by how they were
// controlled, so the report's headline says only what is literally true:
// approved changes, changes that needed no approval, and emergency changes
// (which skip approvals by policy) with where their review stands.
type population struct {
	Deployed           int
	Approved           int // had their required approvals before the deploy started, from other people
	NoApprovalRequired int // their environment requires none
	ShortOfApprovals   int // deployed without the approvals required (each an exception)

	Emergency              int // emergency changes that started a deploy
	EmergencyAcceptable    int // reviewed acceptable
	EmergencyNotAcceptable int // reviewed not acceptable
	EmergencyReviewedLate  int // of those reviewed, how many after their due time
	EmergencyOverdue       int // not reviewed, past due
	EmergencyPending       int // not reviewed, not yet due
	EmergencyNotDeployed   int // the deploy did not succeed: nothing to review

	Exceptions    int
	AuditVerified bool
}

// add counts one change of the pack; within is the review window of its
// environment and now the time the pack is written.
func (p *population) add(c *Change, within time.Duration, now time.Time) {
	if !c.Deployed() {
		return
	}
	p.Deployed++
	if c.Emergency() {
		p.Emergency++
		st := c.emergencyStatus(within, now)
		switch {
		case c.Finish == nil || c.Finish.Result != string(bot.StateSucceeded):
			p.EmergencyNotDeployed++
		case st.pending && st.overdue:
			p.EmergencyOverdue++
		case st.pending:
			p.EmergencyPending++
		case c.Review.Outcome == string(bot.ReviewAcceptable):
			p.EmergencyAcceptable++
		default:
			p.EmergencyNotAcceptable++
		}
		if !st.pending && st.overdue {
			p.EmergencyReviewedLate++
		}
		return
	}
	required := c.requiredApprovals()
	switch {
	case required <= 0:
		p.NoApprovalRequired++
	case len(c.ValidApprovals()) >= required && !selfApproved(c):
		p.Approved++
	default:
		p.ShortOfApprovals++
	}
}

// selfApproved reports whether a valid approval came from the requester or
// the PR author.
func selfApproved(c *Change) bool {
	for _, a := range c.ValidApprovals() {
		if sameLogin(a.Approver, c.Created.Requester) || a.ApproverID != 0 && a.ApproverID == c.Created.RequesterID ||
			c.Created.PRAuthor != "" && sameLogin(a.Approver, c.Created.PRAuthor) {
			return true
		}
	}
	return false
}

// Headline is the report's first sentence about the population, e.g. "Of
// 5 deployed changes, 1 had its required approvals …; 1 was an emergency
// change, approvals skipped by policy (reviewed acceptable after the fact)."
func (p population) Headline() string {
	if p.Deployed == 0 {
		return "No change was deployed in this range."
	}
	var parts []string
	add := func(n int, one, many string) {
		if n > 0 {
			parts = append(parts, countText(n, one, many))
		}
	}
	add(p.Approved, "had its required approvals before it started, from people other than its requester and PR author",
		"had their required approvals before they started, from people other than their requester and PR author")
	add(p.NoApprovalRequired, "needed no approval in its environment", "needed no approval in their environments")
	add(p.ShortOfApprovals, "started without the approvals it required (see the exceptions)",
		"started without the approvals they required (see the exceptions)")
	if p.Emergency > 0 {
		parts = append(parts, countText(p.Emergency, "was an emergency change: approvals skipped by policy",
			"were emergency changes: approvals skipped by policy")+" ("+p.emergencyText()+")")
	}
	s := fmt.Sprintf("Of %s, %s.", countText(p.Deployed, "deployed change", "deployed changes"), joinList(parts))
	return strings.Replace(s, "Of 1 deployed change, 1 ", "The 1 deployed change ", 1)
}

// emergencyText says where the after-the-fact reviews stand.
func (p population) emergencyText() string {
	var parts []string
	add := func(n int, text string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, text))
		}
	}
	add(p.EmergencyAcceptable, "reviewed acceptable after the fact")
	add(p.EmergencyNotAcceptable, "reviewed not acceptable")
	if p.EmergencyReviewedLate > 0 {
		parts = append(parts, countText(p.EmergencyReviewedLate, "review given after its due time", "reviews given after their due time"))
	}
	add(p.EmergencyOverdue, "overdue for review")
	add(p.EmergencyPending, "awaiting review, not yet due")
	add(p.EmergencyNotDeployed, "did not go out, so needs no review")
	return strings.Join(parts, ", ")
}

// Verdict is the sentence under the headline: exceptions and the log.
func (p population) Verdict() string {
	log := "the audit log verified"
	if !p.AuditVerified {
		log = "the audit log did NOT verify"
	}
	if p.Exceptions == 0 {
		return "No exceptions; " + log + "."
	}
	return fmt.Sprintf("%s (listed below); %s.", countText(p.Exceptions, "exception", "exceptions"), log)
}

// countText is "1 change", "2 changes".
func countText[N ~int | ~int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// joinList joins "a", "a and b", "a, b and c".
func joinList(xs []string) string {
	switch len(xs) {
	case 0:
		return ""
	case 1:
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], "; ") + "; and " + xs[len(xs)-1]
}
