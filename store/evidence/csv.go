package evidence

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// table is one CSV file of the pack.
type table struct {
	name   string
	header []string
	rows   [][]string
}

// encode writes the table as RFC 4180 CSV. A cell that a spreadsheet would
// run as a formula (starting with = + - @ or a tab) gets a leading
// apostrophe: PR titles and reasons are typed by users.
func (t *table) encode() ([]byte, error) {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	if err := w.Write(t.header); err != nil {
		return nil, err
	}
	for _, r := range t.rows {
		safe := make([]string, len(r))
		for i, v := range r {
			if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
				v = "'" + v
			}
			safe[i] = v
		}
		if err := w.Write(safe); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

var changesHeader = []string{"request_id", "repo", "environment", "production", "sha", "ref", "trigger",
	"pr", "pr_author", "pr_merged", "reviewers", "review_times", "requester", "requested_at",
	"required_approvals", "approvers", "approval_times", "deploy_started", "deploy_finished", "state",
	"result", "ticket", "reason", "servers", "release", "manifest_digest",
	"audit_seq_created", "audit_seq_deploy_started", "audit_seq_deploy_finished", "audit_seqs", "exceptions"}

func changesTable(ds *dataset, production func(repo, env string) bool, exc map[string][]string) *table {
	t := &table{name: "changes.csv", header: changesHeader}
	for _, c := range ds.changes {
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
		ticket := c.Created.Ticket
		if c.Decision != nil && c.Decision.Ticket != "" {
			ticket = c.Decision.Ticket
		}
		t.rows = append(t.rows, []string{c.ID, c.Created.Repo, c.Created.Environment,
			strconv.FormatBool(production(c.Created.Repo, c.Created.Environment)), c.Created.SHA, c.Created.Ref,
			c.Created.Trigger, pr, c.Created.PRAuthor, merged, join(reviewers), join(reviewTimes),
			c.Created.Requester, stamp(c.CreatedAt), strconv.Itoa(c.requiredApprovals()), join(approvers),
			join(approvalTimes), stamp(c.Started), stamp(c.Finished), c.Outcome, result, ticket, c.Created.Reason,
			join(servers), release, digest, seqStr(c.CreatedSeq, true), seqStr(c.StartedSeq, c.Deployed()),
			seqStr(c.FinishSeq, c.Finish != nil), strings.Join(seqs, " "), join(exc[c.ID])})
	}
	return t
}

func approvalsTable(ds *dataset) *table {
	t := &table{name: "approvals.csv", header: []string{"request_id", "repo", "environment", "sha", "approver",
		"approver_id", "approved_at", "expires_at", "teams", "requester", "pr_author", "independent",
		"revoked_at", "in_force_at_deploy", "deploy_started", "before_deploy_start", "audit_seq", "mfa", "mfa_reverifies"}}
	for _, c := range ds.changes {
		valid := map[int64]bool{}
		for _, a := range c.ValidApprovals() {
			valid[a.Seq] = true
		}
		for _, a := range c.Approvals {
			independent := !sameLogin(a.Approver, c.Created.Requester) && !sameLogin(a.Approver, c.Created.PRAuthor)
			before := ""
			if c.Deployed() {
				before = strconv.FormatBool(a.At.Before(c.Started))
			}
			t.rows = append(t.rows, append([]string{c.ID, c.Created.Repo, c.Created.Environment, c.Created.SHA, a.Approver,
				idStr(a.ApproverID), stamp(a.At), stamp(a.ExpiresAt), join(a.Teams), c.Created.Requester,
				c.Created.PRAuthor, strconv.FormatBool(independent), stamp(a.RevokedAt),
				strconv.FormatBool(valid[a.Seq] && c.Deployed()), stamp(c.Started), before, strconv.FormatInt(a.Seq, 10)},
				c.mfaColumns(a.Seq)...))
		}
	}
	return t
}

func refusalsTable(ds *dataset) *table {
	t := &table{name: "refusals.csv", header: []string{"at", "audit_seq", "kind", "actor", "subject", "repo",
		"environment", "attempted", "code", "reason", "failed_checks"}}
	for _, e := range ds.refusals {
		kind, attempted, code, reason := "", "", "", ""
		var failed []string
		switch e.Action {
		case bot.ActionPolicyDecided:
			d := decode[bot.Decision](e.entry)
			kind, attempted, code, reason = "policy", "deploy request", string(d.Code), d.Reason
			for _, c := range d.Checks {
				if c.Outcome == bot.OutcomeFail {
					failed = append(failed, c.Name)
				}
			}
		case bot.ActionApprovalRefused:
			d := decode[approvalData](e.entry)
			kind, attempted, code, reason = "approval", "approve", d.Code, d.Reason
		case bot.ActionActionRefused:
			d := decode[refusedData](e.entry)
			kind, attempted, code, reason = "action", d.Action, d.Code, d.Reason
		}
		actor := e.Actor
		if e.Action == bot.ActionPolicyDecided {
			if c := ds.byID[e.Subject]; c != nil {
				actor = c.Created.Requester
			}
		}
		t.rows = append(t.rows, []string{stamp(e.At), strconv.FormatInt(e.Seq, 10), kind, actor, e.Subject, e.Repo,
			e.Environment, attempted, code, reason, join(failed)})
	}
	return t
}

func emergencyTable(ds *dataset, within func(repo, env string) time.Duration, now time.Time) *table {
	t := &table{name: "emergency_changes.csv", header: []string{"request_id", "repo", "environment", "sha",
		"deployer", "reason", "ticket", "deployed_at", "result", "review_opened_at", "review_due", "reminders",
		"review_outcome", "reviewer", "reviewed_at", "review_latency_hours", "note", "overdue", "audit_seq_created"}}
	for _, c := range ds.changes {
		if !c.Emergency() {
			continue
		}
		st := c.emergencyStatus(within(c.Created.Repo, c.Created.Environment), now)
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
		ticket := c.Created.Ticket
		if c.Decision != nil && c.Decision.Ticket != "" {
			ticket = c.Decision.Ticket
		}
		t.rows = append(t.rows, []string{c.ID, c.Created.Repo, c.Created.Environment, c.Created.SHA, c.Created.Requester,
			c.Created.Reason, ticket, stamp(c.Finished), result, stamp(r.OpenedAt), stamp(st.due),
			strconv.Itoa(r.Reminders), outcome, r.Reviewer, stamp(r.ReviewedAt), latency, r.Note,
			strconv.FormatBool(st.overdue), strconv.FormatInt(c.CreatedSeq, 10)})
	}
	return t
}

func accessReviewsTable(ds *dataset) *table {
	t := &table{name: "access_reviews.csv", header: []string{"at", "audit_seq", "event", "review_id", "actor",
		"digest", "grants", "added", "removed", "outcome", "reviewer", "note", "taken_at", "signed_off_at"}}
	for _, e := range ds.reviews {
		d := decode[accessData](e.entry)
		id := d.Review
		if id == "" {
			id = d.ReviewID
		}
		if id == "" {
			id = d.ID
		}
		if id == "" {
			id = e.Subject
		}
		reviewer := d.Reviewer
		if reviewer == "" && e.Action == actionAccessReviewSignedOff {
			reviewer = e.Actor
		}
		t.rows = append(t.rows, []string{stamp(e.At), strconv.FormatInt(e.Seq, 10), e.Action, id, e.Actor, d.Digest,
			rawStr(d.Grants), rawStr(d.Added), rawStr(d.Removed), d.Outcome, reviewer, d.Note, stamp(d.TakenAt), stamp(d.SignedOffAt)})
	}
	return t
}

func accessChangesTable(ds *dataset) *table {
	t := &table{name: "access_changes.csv", header: []string{"at", "audit_seq", "event", "login", "github_id",
		"subject", "source", "detail", "departed_at", "revoked_at", "revocation_latency_seconds", "latency_basis"}}
	for _, e := range ds.access {
		d := decode[accessData](e.entry)
		login := d.Login
		if login == "" {
			login = d.GitHubLogin
		}
		if login == "" && e.Action != bot.ActionIdentityLinked {
			login = e.Subject
		}
		var detail []string
		switch e.Action {
		case bot.ActionAccessRevoked:
			detail = append(detail, fmt.Sprintf("canceled requests: %s", orNone(d.CanceledRequests)),
				fmt.Sprintf("approvals revoked on: %s", orNone(d.RevokedApprovalsOn)),
				fmt.Sprintf("Slack links removed: %d", d.SlackLinksRemoved))
		case bot.ActionApprovalRevoked:
			a := decode[approvalData](e.entry)
			login = a.Approver
			detail = append(detail, "approval on "+e.Subject+" revoked")
		case bot.ActionIdentityLinked, bot.ActionIdentityUnlinked:
			detail = append(detail, "Slack user "+e.Subject)
			if d.Reason != "" {
				detail = append(detail, d.Reason)
			}
		case actionAccessGranted:
			detail = append(detail, "granted "+d.Team)
		}
		latency, revoked := "", d.RevokedAt
		if d.LatencySeconds != nil {
			latency = strconv.FormatInt(*d.LatencySeconds, 10)
		} else if !d.DepartedAt.IsZero() {
			latency = strconv.FormatInt(int64(e.At.Sub(d.DepartedAt).Seconds()), 10)
		}
		if revoked.IsZero() && (e.Action == bot.ActionAccessRevoked || e.Action == actionAccessReconciled) {
			revoked = e.At
		}
		t.rows = append(t.rows, []string{stamp(e.At), strconv.FormatInt(e.Seq, 10), e.Action, login, idStr(d.GitHubID),
			e.Subject, d.Source, strings.Join(detail, "; "), stamp(d.DepartedAt), stamp(revoked), latency, d.LatencyBasis})
	}
	return t
}

// FreezeWindow is a configured freeze window, listed in locks_and_freezes.csv.
type FreezeWindow struct {
	Repo, Environment, Name string
	Schedule                string // "2025-12-20T00:00:00Z .. 2026-01-02T00:00:00Z" or a cron spec and duration
}

func locksTable(ds *dataset, freezes []FreezeWindow) *table {
	t := &table{name: "locks_and_freezes.csv", header: []string{"at", "audit_seq", "event", "repo", "environment",
		"owner", "by", "how", "reason", "created_at", "expires_at", "held_seconds"}}
	for _, f := range freezes {
		t.rows = append(t.rows, []string{"", "", "freeze_window.configured", f.Repo, f.Environment, "", "", "",
			f.Name + ": " + f.Schedule, "", "", ""})
	}
	for _, e := range ds.locks {
		if e.Action == bot.ActionPolicyDecided {
			d := decode[bot.Decision](e.entry)
			c, _ := d.Check(bot.CheckFreeze)
			by := ""
			if ch := ds.byID[e.Subject]; ch != nil {
				by = ch.Created.Requester
			}
			t.rows = append(t.rows, []string{stamp(e.At), strconv.FormatInt(e.Seq, 10), "freeze_window.refused",
				e.Repo, e.Environment, "", by, "request " + e.Subject, c.Detail, "", "", ""})
			continue
		}
		d := decode[lockData](e.entry)
		held := ""
		if e.Action == bot.ActionLockReleased && !d.CreatedAt.IsZero() {
			held = strconv.FormatInt(int64(e.At.Sub(d.CreatedAt).Seconds()), 10)
		} else if d.HeldSeconds > 0 {
			held = strconv.FormatInt(d.HeldSeconds, 10)
		}
		by := d.By
		if by == "" {
			by = e.Actor
		}
		t.rows = append(t.rows, []string{stamp(e.At), strconv.FormatInt(e.Seq, 10), e.Action, e.Repo, e.Environment,
			d.Owner, by, d.How, d.Reason, stamp(d.CreatedAt), stamp(d.ExpiresAt), held})
	}
	return t
}

func exceptionsTable(es []Exception) *table {
	t := &table{name: "exceptions.csv", header: []string{"code", "request_id", "audit_seq", "detail"}}
	for _, e := range es {
		t.rows = append(t.rows, []string{e.Code, e.RequestID, seqStr(e.Seq, e.Seq >= 0), e.Detail})
	}
	return t
}

func join(ss []string) string { return strings.Join(ss, "; ") }

func orNone(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	return strings.Join(ss, ", ")
}

func seqStr(seq int64, ok bool) string {
	if !ok {
		return ""
	}
	return strconv.FormatInt(seq, 10)
}

func idStr(id int64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatInt(id, 10)
}

func rawStr(r []byte) string {
	if len(r) == 0 || string(r) == "null" {
		return ""
	}
	return string(r)
}

func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
