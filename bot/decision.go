package bot

import (
	"strings"
	"time"
)

// CheckOutcome is the result of one policy check.
type CheckOutcome string

// Check outcomes.
const (
	OutcomePass    CheckOutcome = "pass"
	OutcomeFail    CheckOutcome = "fail"
	OutcomeSkipped CheckOutcome = "skipped" // not required here; Detail says why
)

// Policy check names, as they appear in audit entries.
const (
	CheckRequester = "requester"
	CheckDeployer  = "deployer_team"
	CheckEmergency = "emergency_team"
	CheckReason    = "reason"
	CheckTicket    = "ticket"
	CheckBranch    = "branch"
	CheckPRReview  = "pr_review"
	CheckPRHead    = "pr_head" // label triggers: the SHA is still the head of its pull request
	CheckChecks    = "checks"
	CheckFreeze    = "freeze"
	CheckLock      = "lock"
	// CheckApprovalMFA records that approvals need a security key
	// (approvals.require_webauthn); CheckEmergencyMFA that the requester of
	// an emergency change confirmed it with one (emergency.require_webauthn).
	CheckApprovalMFA  = "approval_mfa"
	CheckEmergencyMFA = "emergency_mfa"
	CheckRunEvent     = "run_event" // protection-rule runs: what started the workflow run
)

// PolicyCheck is one check of a decision: what was looked up, the result,
// and a detail a person (or an auditor replaying it) can read.
type PolicyCheck struct {
	Name     string       `json:"name"`
	LookedUp string       `json:"looked_up"`
	Outcome  CheckOutcome `json:"outcome"`
	Detail   string       `json:"detail"`
	Code     RefusalCode  `json:"code,omitempty"` // set when Outcome is fail
}

// Decision is the policy's verdict on a request, with every check.
type Decision struct {
	Allowed    bool          `json:"allowed"`
	Code       RefusalCode   `json:"code,omitempty"`
	Reason     string        `json:"reason,omitempty"`
	Ticket     string        `json:"ticket,omitempty"`
	ConfigHash string        `json:"config_hash"`
	At         time.Time     `json:"at"`
	Checks     []PolicyCheck `json:"checks"`
}

// Refusal returns the decision's refusal, or nil when allowed.
func (d *Decision) Refusal() *Refusal {
	if d.Allowed {
		return nil
	}
	return &Refusal{Code: d.Code, Reason: d.Reason}
}

// NoRole reports whether the decision refused someone who holds no role
// here: no GitHub identity, or in none of the teams the trigger needs.
// Such refusals concern nobody but the requester: transports keep them
// out of the approvals channel.
func (d *Decision) NoRole() bool {
	for _, c := range d.Checks {
		if c.Outcome == OutcomeFail && (c.Name == CheckRequester || c.Name == CheckDeployer || c.Name == CheckEmergency) {
			return true
		}
	}
	return false
}

// Check returns the check named name, if the decision made it.
func (d *Decision) Check(name string) (PolicyCheck, bool) {
	for _, c := range d.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return PolicyCheck{}, false
}

func (d *Decision) pass(name, lookedUp, detail string) {
	d.Checks = append(d.Checks, PolicyCheck{Name: name, LookedUp: lookedUp, Outcome: OutcomePass, Detail: detail})
}

func (d *Decision) skip(name, detail string) {
	d.Checks = append(d.Checks, PolicyCheck{Name: name, Outcome: OutcomeSkipped, Detail: detail})
}

func (d *Decision) fail(name, lookedUp string, code RefusalCode, detail string) {
	d.Checks = append(d.Checks, PolicyCheck{Name: name, LookedUp: lookedUp, Outcome: OutcomeFail, Detail: detail, Code: code})
}

// finish sets Allowed, Code and Reason from the checks: the first failure
// names the code, and the reason lists every failure so the person can fix
// all of them at once.
func (d *Decision) finish() {
	var reasons []string
	for _, c := range d.Checks {
		if c.Outcome != OutcomeFail {
			continue
		}
		if d.Code == "" {
			d.Code = c.Code
		}
		reasons = append(reasons, c.Detail)
	}
	d.Allowed = len(reasons) == 0
	d.Reason = strings.Join(reasons, "; ")
}
