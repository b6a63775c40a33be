package bot

import (
	"errors"
	"fmt"
)

// ErrNotFound reports that a request, lock or link does not exist.
var ErrNotFound = errors.New("not found")

// ErrConflict reports that a compare-and-swap lost: the object changed
// between read and write. Callers re-read and decide again.
var ErrConflict = errors.New("concurrent update")

// ErrInterrupted is what a Deployer returns (wrapped) when the deploy was
// cut short by its process rather than by the target: the deploy's
// process lost its hold on it (a replica whose heartbeat lapsed, see
// server/replica.go). The request ends interrupted, not failed.
var ErrInterrupted = errors.New("deploy interrupted")

// RefusalCode names why an action was refused, so transports can map it
// (a Slack ephemeral, a PR comment, a protection-rule rejection) and
// evidence can count refusals by reason.
type RefusalCode string

// Refusal codes. They are stable: they appear in audit entries and evidence.
const (
	CodeNotDeployer       RefusalCode = "not_deployer"
	CodeNotApprover       RefusalCode = "not_approver"
	CodeNotEmergency      RefusalCode = "not_emergency_member"
	CodeBranchNotAllowed  RefusalCode = "branch_not_allowed"
	CodeNoReview          RefusalCode = "no_independent_review"
	CodeChecksFailed      RefusalCode = "checks_not_green"
	CodeFrozen            RefusalCode = "freeze_window"
	CodeLocked            RefusalCode = "locked"
	CodeTicketMissing     RefusalCode = "ticket_missing"
	CodeReasonMissing     RefusalCode = "reason_missing"
	CodeUnknownEnv        RefusalCode = "unknown_environment"
	CodeUnknownRef        RefusalCode = "unknown_ref"
	CodeSelfApproval      RefusalCode = "self_approval"
	CodeAuthorApproval    RefusalCode = "author_approval"
	CodeAlreadyApproved   RefusalCode = "already_approved"
	CodeStaleSHA          RefusalCode = "stale_sha"
	CodeApprovalExpired   RefusalCode = "approval_expired"
	CodeBadNonce          RefusalCode = "bad_nonce"
	CodeWrongState        RefusalCode = "wrong_state"
	CodeNotAllowed        RefusalCode = "not_allowed"
	CodeNotLockOwner      RefusalCode = "not_lock_owner"
	CodeNotLinked         RefusalCode = "not_linked"
	CodeNothingToRollBack RefusalCode = "nothing_to_roll_back"
	CodeUntrustedRun      RefusalCode = "untrusted_run_event"
)

// Refusal is an action the domain declined for a reason a person can act
// on. It is not a system error: transports show Reason to the user.
type Refusal struct {
	Code   RefusalCode
	Reason string
	// Throttled is set when the person used up their refusals of the
	// window (refusal_limits.go): the refusal was not recorded, and
	// transports need not spend an API call answering it.
	Throttled bool
}

func (r *Refusal) Error() string { return fmt.Sprintf("refused (%s): %s", r.Code, r.Reason) }

// refuse builds a *Refusal with a formatted reason.
func refuse(code RefusalCode, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// AsRefusal returns the refusal inside err, if any.
func AsRefusal(err error) (*Refusal, bool) {
	var r *Refusal
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}
