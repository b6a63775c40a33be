package evidence

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// The rows of changes.csv, approvals.csv, emergency_changes.csv and
// exceptions.csv: one change (or exception) at a time.

var changesHeader = []string{"request_id", "repo", "environment", "production", "sha", "ref", "trigger",
	"pr", "pr_author", "pr_merged", "reviewers", "review_times", "requester", "requested_at",
	"required_approvals", "approvers", "approval_times", "deploy_started", "deploy_finished", "state",
	"result", "ticket", "reason", "servers", "release", "manifest_digest",
	"audit_seq_created", "audit_seq_deploy_started", "audit_seq_deploy_finished", "audit_seqs", "exceptions"}

// changeRow is c's row of changes.csv; codes are its exceptions.
func changeRow(c *Change, production bool, codes []string) []string {
	var reviewers, reviewTimes, approvers, approvalTimes, servers []string
	merged := ""
	if c.Table != nil && c.Table.PR != nil {
		merged = strconv.FormatBool(c.Table.PR.Merged)
		for _, r := range c.Table.PR.Reviews {
			reviewers = append(reviewers, fmt.Sprintf("%s (%s on %s)", r.User.Login, r.State, short(r.CommitID)))
			reviewTimes = append(reviewTimes, stamp(r.SubmittedAt))
		}
	}
	for _, a := range c.ValidApprovals() {
		approvers = append(approvers, a.Approver)
		approvalTimes = append(approvalTimes, stamp(a.At))
	}
	result, release, digest := "", "", ""
	if c.Finish != nil {
		result, release, digest = c.Finish.Result, c.Finish.Release, c.Finish.ManifestDigest
		if c.RolledBack {
			result = string(bot.StateRolledBack)
		}
		servers = c.Finish.Servers
	}
	seqs := make([]string, len(c.Seqs))
	for i, s := range c.Seqs {
		seqs[i] = strconv.FormatInt(s, 10)
	}
	pr := ""
	if c.Created.PR != 0 {
		pr = strconv.Itoa(c.Created.PR)
	}
	return []string{c.ID, c.Created.Repo, c.Created.Environment,
		strconv.FormatBool(production), c.Created.SHA, c.Created.Ref,
		c.Created.Trigger, pr, c.Created.PRAuthor, merged, join(reviewers), join(reviewTimes),
		c.Created.Requester, stamp(c.CreatedAt), strconv.Itoa(c.requiredApprovals()), join(approvers),
		join(approvalTimes), stamp(c.Started), stamp(c.Finished), c.Outcome, result, c.ticket(), c.Created.Reason,
		join(servers), release, digest, seqStr(c.CreatedSeq, true), seqStr(c.StartedSeq, c.Deployed()),
		seqStr(c.FinishSeq, c.Finish != nil), strings.Join(seqs, " "), join(codes)}
}

// ticket is the change's ticket: the one the policy decision resolved,
// else the one given with the request.
func (c *Change) ticket() string {
	if c.Decision != nil && c.Decision.Ticket != "" {
		return c.Decision.Ticket
	}
	return c.Created.Ticket
}

var approvalsHeader = []string{"request_id", "repo", "environment", "sha", "approver",
	"approver_id", "approved_at", "expires_at", "teams", "requester", "pr_author", "independent",
	"revoked_at", "in_force_at_deploy", "deploy_started", "before_deploy_start", "audit_seq", "mfa", "mfa_reverifies"}

// approvalRows are c's rows of approvals.csv, one per approval.granted,
// with what mfa found of its security key assertion.
func approvalRows(c *Change, mfa *mfaChecks) [][]string {
	valid := map[int64]bool{}
	for _, a := range c.ValidApprovals() {
		valid[a.Seq] = true
	}
	var out [][]string
	for _, a := range c.Approvals {
		independent := !sameLogin(a.Approver, c.Created.Requester) && !sameLogin(a.Approver, c.Created.PRAuthor)
		before := ""
		if c.Deployed() {
			before = strconv.FormatBool(a.At.Before(c.Started))
		}
		m := mfa.columns(a.Seq)
		out = append(out, []string{c.ID, c.Created.Repo, c.Created.Environment, c.Created.SHA, a.Approver,
			idStr(a.ApproverID), stamp(a.At), stamp(a.ExpiresAt), join(a.Teams), c.Created.Requester,
			c.Created.PRAuthor, strconv.FormatBool(independent), stamp(a.RevokedAt),
			strconv.FormatBool(valid[a.Seq] && c.Deployed()), stamp(c.Started), before, strconv.FormatInt(a.Seq, 10), m[0], m[1]})
	}
	return out
}

var emergencyHeader = []string{"request_id", "repo", "environment", "sha",
	"deployer", "reason", "ticket", "deployed_at", "result", "review_opened_at", "review_due", "reminders",
	"review_outcome", "reviewer", "reviewed_at", "review_latency_hours", "note", "overdue", "audit_seq_created"}

// emergencyRow is c's row of emergency_changes.csv; c is an emergency change.
func emergencyRow(c *Change, within time.Duration, now time.Time) []string {
	st := c.emergencyStatus(within, now)
	result := ""
	if c.Finish != nil {
		result = c.Finish.Result
	}
	var r EmergencyReview
	if c.Review != nil {
		r = *c.Review
	}
	outcome, latency := r.Outcome, ""
	switch {
	case outcome == "" && st.pending:
		outcome = "pending"
	case outcome == "":
		outcome = "not applicable (not deployed)"
	}
	if !r.ReviewedAt.IsZero() && !c.Finished.IsZero() {
		latency = strconv.FormatFloat(r.ReviewedAt.Sub(c.Finished).Hours(), 'f', 2, 64)
	}
	return []string{c.ID, c.Created.Repo, c.Created.Environment, c.Created.SHA, c.Created.Requester,
		c.Created.Reason, c.ticket(), stamp(c.Finished), result, stamp(r.OpenedAt), stamp(st.due),
		strconv.Itoa(r.Reminders), outcome, r.Reviewer, stamp(r.ReviewedAt), latency, r.Note,
		strconv.FormatBool(st.overdue), strconv.FormatInt(c.CreatedSeq, 10)}
}

var exceptionsHeader = []string{"code", "request_id", "audit_seq", "detail"}

func exceptionRow(e Exception) []string {
	return []string{e.Code, e.RequestID, seqStr(e.Seq, e.Seq >= 0), e.Detail}
}
