package evidence

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// Exception is something an auditor must look at: a control that did not
// hold for a change, or a problem with the evidence itself.
type Exception struct {
	Code      string
	RequestID string // empty for a pack-wide exception
	Seq       int64  // the audit entry that shows it; -1 when none
	Detail    string
}

// Exception codes, stable: they appear in changes.csv and exceptions.csv.
const (
	ExcProductionWithoutApproval = "production_change_without_approval"
	ExcInsufficientApprovals     = "insufficient_approvals"
	ExcApprovalAfterDeployStart  = "approval_after_deploy_start"
	ExcApprovalExpiredAtStart    = "approval_expired_at_deploy_start"
	ExcApproverIsRequester       = "approver_is_requester"
	ExcApproverIsPRAuthor        = "approver_is_pr_author"
	ExcDeniedButDeployed         = "policy_denied_but_deployed"
	ExcNoPolicyDecision          = "no_policy_decision"
	ExcDeployWithoutResult       = "deploy_without_result"
	ExcMissingTableRow           = "missing_requests_row"
	ExcTableMismatch             = "audit_requests_mismatch"
	ExcRequestWithoutAudit       = "request_without_audit_entry"
	ExcEmergencyReviewOverdue    = "emergency_review_overdue"
	ExcEmergencyNotAcceptable    = "emergency_change_not_acceptable"
	ExcVerifyFailed              = "audit_log_verify_failed"
	ExcUnsignedTail              = "unsigned_tail"
	ExcDriftDetected             = "release_drift_detected"
	ExcLiveWithoutAttestation    = "live_without_attestation"
)

// changeExceptions checks the controls on one change.
func changeExceptions(c *Change, production bool, reviewWithin time.Duration, now time.Time) []Exception {
	var out []Exception
	add := func(code string, seq int64, format string, args ...any) {
		out = append(out, Exception{Code: code, RequestID: c.ID, Seq: seq, Detail: fmt.Sprintf(format, args...)})
	}
	if c.Decision == nil {
		add(ExcNoPolicyDecision, c.CreatedSeq, "no policy.decided entry follows request.created")
	} else if !c.Decision.Allowed && c.Deployed() {
		add(ExcDeniedButDeployed, c.StartedSeq, "the policy denied it (%s) but a deploy started", c.Decision.Code)
	}
	valid := c.ValidApprovals()
	if c.Deployed() && !c.Emergency() {
		required := c.requiredApprovals()
		if production && len(valid) == 0 {
			add(ExcProductionWithoutApproval, c.StartedSeq, "deployed to production %s with no approval in force", c.Created.Environment)
		} else if len(valid) < required {
			add(ExcInsufficientApprovals, c.StartedSeq, "%s in force at deploy start, %d required", countText(len(valid), "approval", "approvals"), required)
		}
		for _, a := range c.Approvals {
			switch {
			case a.At.After(c.Started):
				add(ExcApprovalAfterDeployStart, a.Seq, "%s approved at %s, after the deploy started at %s", a.Approver, stamp(a.At), stamp(c.Started))
			case a.expiredBy(c.Started) && (a.RevokedAt.IsZero() || a.RevokedAt.After(c.Started)):
				add(ExcApprovalExpiredAtStart, a.Seq, "%s's approval expired at %s, before the deploy started at %s",
					a.Approver, stamp(a.ExpiresAt), stamp(c.Started))
			}
		}
	}
	for _, a := range valid {
		if sameLogin(a.Approver, c.Created.Requester) || a.ApproverID != 0 && a.ApproverID == c.Created.RequesterID {
			add(ExcApproverIsRequester, a.Seq, "%s approved their own request", a.Approver)
		}
		if c.Created.PRAuthor != "" && sameLogin(a.Approver, c.Created.PRAuthor) {
			add(ExcApproverIsPRAuthor, a.Seq, "%s approved the deploy of their own PR #%d", a.Approver, c.Created.PR)
		}
	}
	if c.Deployed() && c.Finish == nil && (c.Table == nil || c.Table.State != bot.StateRunning) {
		add(ExcDeployWithoutResult, c.StartedSeq, "deploy.started with no deploy.finished or deploy.interrupted")
	}
	if c.Table == nil {
		add(ExcMissingTableRow, c.CreatedSeq, "the audit log records the request, the requests table has no row for it")
	} else if diff := c.tableDiff(); len(diff) > 0 {
		add(ExcTableMismatch, c.CreatedSeq, "requests table differs from the audit log: %s", strings.Join(diff, "; "))
	}
	if c.WentLive() && c.Attestation == "" {
		add(ExcLiveWithoutAttestation, c.FinishSeq, "release %s went live with no release.attested entry: no signed deployment attestation", c.Finish.Release)
	}
	if r := c.emergencyStatus(reviewWithin, now); r.overdue {
		add(ExcEmergencyReviewOverdue, c.FinishSeq, "emergency change not reviewed by %s", stamp(r.due))
	}
	if c.Review != nil && c.Review.Outcome == "not_acceptable" {
		add(ExcEmergencyNotAcceptable, c.FinishSeq, "reviewer %s found it not acceptable: %s", c.Review.Reviewer, c.Review.Note)
	}
	return out
}

func (c *Change) requiredApprovals() int {
	if c.Table != nil {
		return c.Table.RequiredApprovals
	}
	n := 0
	for _, a := range c.Approvals {
		n = max(n, a.Required)
	}
	return n
}

// tableDiff compares the requests table's row with the audit log.
func (c *Change) tableDiff() []string {
	t := c.Table
	var diff []string
	cmp := func(field, audit, table string) {
		if audit != table {
			diff = append(diff, fmt.Sprintf("%s %q in the audit log, %q in the table", field, audit, table))
		}
	}
	cmp("repo", c.Created.Repo, t.Repo)
	cmp("environment", c.Created.Environment, t.Environment)
	cmp("sha", c.Created.SHA, t.SHA)
	cmp("trigger", c.Created.Trigger, string(t.Trigger))
	cmp("requester", c.Created.Requester, t.Requester.Login)
	prAuthor, pr := "", 0
	if t.PR != nil {
		prAuthor, pr = t.PR.Author.Login, t.PR.Number
	}
	cmp("pr", fmt.Sprint(c.Created.PR), fmt.Sprint(pr))
	cmp("pr author", c.Created.PRAuthor, prAuthor)
	if c.Outcome != "" {
		cmp("state", c.Outcome, string(t.State))
	}
	var auditApprovers, tableApprovers []string
	for _, a := range c.Approvals {
		auditApprovers = append(auditApprovers, strings.ToLower(a.Approver))
	}
	for _, a := range t.Approvals {
		tableApprovers = append(tableApprovers, strings.ToLower(a.Approver.Login))
	}
	cmp("approvers", strings.Join(auditApprovers, ","), strings.Join(tableApprovers, ","))
	if c.Finish != nil && t.Result != nil {
		cmp("manifest digest", c.Finish.ManifestDigest, t.Result.ManifestDigest)
	}
	return diff
}

type emergencyState struct {
	due     time.Time
	pending bool
	overdue bool
}

// emergencyStatus says whether an emergency change still awaits its
// review and whether it is past due at now.
func (c *Change) emergencyStatus(within time.Duration, now time.Time) emergencyState {
	if !c.Emergency() || c.Finish == nil || c.Finish.Result != string(bot.StateSucceeded) {
		return emergencyState{}
	}
	st := emergencyState{due: c.Finished.Add(within)}
	if c.Review != nil && !c.Review.DueAt.IsZero() {
		st.due = c.Review.DueAt
	}
	st.pending = c.Review == nil || c.Review.Outcome == ""
	reviewedLate := !st.pending && c.Review.ReviewedAt.After(st.due)
	st.overdue = st.pending && now.After(st.due) || reviewedLate || c.Review != nil && !c.Review.OverdueAt.IsZero()
	return st
}

// unauditedRequests lists requests-table rows created in the range (and
// matching the filters) whose request.created is nowhere in the audit log.
func unauditedRequests(ctx context.Context, db *sql.DB, opts Options) ([]Exception, int, error) {
	rows, err := db.QueryContext(ctx, `SELECT r.id, r.repo, r.environment,
		EXISTS (SELECT 1 FROM audit_entries a WHERE a.action = 'request.created' AND a.subject = r.id)
		FROM requests r WHERE r.created_at >= ? AND r.created_at < ?`, opts.Range.From.UnixNano(), opts.Range.To.UnixNano())
	if err != nil {
		return nil, 0, fmt.Errorf("read requests table: %w", err)
	}
	defer rows.Close()
	var out []Exception
	n := 0
	for rows.Next() {
		var id, repo, env string
		var audited bool
		if err := rows.Scan(&id, &repo, &env, &audited); err != nil {
			return nil, 0, fmt.Errorf("read requests table: %w", err)
		}
		if opts.Repo != "" && !strings.EqualFold(repo, opts.Repo) || opts.Environment != "" && env != opts.Environment {
			continue
		}
		n++
		if !audited { // a change of the population has its request.created entry
			out = append(out, Exception{Code: ExcRequestWithoutAudit, RequestID: id, Seq: -1,
				Detail: fmt.Sprintf("the requests table holds %s (%s %s) but no audit entry records its creation", id, repo, env)})
		}
	}
	return out, n, rows.Err()
}

func sameLogin(a, b string) bool { return a != "" && strings.EqualFold(a, b) }

// stamp formats a time for CSVs and reports: UTC, milliseconds, sortable.
func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// sortExceptions orders pack-wide exceptions first, then by seq.
func sortExceptions(es []Exception) {
	slices.SortStableFunc(es, func(a, b Exception) int {
		if (a.RequestID == "") != (b.RequestID == "") {
			if a.RequestID == "" {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Seq, b.Seq)
	})
}

// driftException is the exception of a release.drift_detected entry: the
// environment, the release Tollgate put live and, per server, what differed.
func driftException(ev Event) Exception {
	d := decode[struct {
		RequestID string `json:"request_id"`
		Release   string `json:"release"`
		Servers   []struct {
			Server   string              `json:"server"`
			Paths    map[string][]string `json:"paths"`
			Findings []string            `json:"findings"`
		} `json:"servers"`
	}](ev.entry)
	var parts []string
	for _, s := range d.Servers {
		var what []string
		for _, k := range slices.Sorted(maps.Keys(s.Paths)) {
			what = append(what, k+" "+strings.Join(s.Paths[k], ", "))
		}
		what = append(what, s.Findings...)
		parts = append(parts, s.Server+": "+strings.Join(what, "; "))
	}
	// Pack-wide: the request that put the release live may be outside the period.
	return Exception{Code: ExcDriftDetected, Seq: ev.Seq,
		Detail: fmt.Sprintf("%s %s: the servers did not run release %s (request %s) as deployed: %s",
			ev.Repo, ev.Environment, d.Release, d.RequestID, strings.Join(parts, " | "))}
}
