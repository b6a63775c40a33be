package evidence

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tollgate-dev/tollgate/bot"
)

// The rows of refusals.csv, access_reviews.csv, access_changes.csv and
// locks_and_freezes.csv: one audit entry at a time, written while the
// log is read (scanEvents).

// eventFiles are the CSVs written during the pass over the log.
type eventFiles struct {
	refusals, reviews, access, locks *csvFile
}

var (
	refusalsHeader = []string{"at", "audit_seq", "kind", "actor", "subject", "repo",
		"environment", "attempted", "code", "reason", "failed_checks"}
	accessReviewsHeader = []string{"at", "audit_seq", "event", "review_id", "actor",
		"digest", "grants", "added", "removed", "outcome", "reviewer", "note", "taken_at", "signed_off_at"}
	accessChangesHeader = []string{"at", "audit_seq", "event", "login", "github_id",
		"subject", "source", "detail", "departed_at", "revoked_at", "revocation_latency_seconds", "latency_basis"}
	locksHeader = []string{"at", "audit_seq", "event", "repo", "environment",
		"owner", "by", "how", "reason", "created_at", "expires_at", "held_seconds"}
)

// createEventFiles creates the four CSVs; locks_and_freezes.csv starts
// with the configured freeze windows.
func createEventFiles(dir string, freezes []FreezeWindow) (*eventFiles, error) {
	var out eventFiles
	var err error
	for _, f := range []struct {
		dst    **csvFile
		name   string
		header []string
	}{{&out.refusals, "refusals.csv", refusalsHeader}, {&out.reviews, "access_reviews.csv", accessReviewsHeader},
		{&out.access, "access_changes.csv", accessChangesHeader}, {&out.locks, "locks_and_freezes.csv", locksHeader}} {
		if *f.dst, err = createCSV(dir, f.name, f.header); err != nil {
			out.close()
			return nil, err
		}
	}
	for _, f := range freezes {
		_ = out.locks.row([]string{"", "", "freeze_window.configured", f.Repo, f.Environment, "", "", "",
			f.Name + ": " + f.Schedule, "", "", ""})
	}
	return &out, nil
}

// close closes every file that was created; the first error wins.
func (e *eventFiles) close() error {
	var first error
	for _, f := range []*csvFile{e.refusals, e.reviews, e.access, e.locks} {
		if f == nil {
			continue
		}
		if err := f.close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// refusalRow is a refusals.csv row. A policy refusal is listed under the
// requester of its change when the change is in the population (known).
func refusalRow(e Event, requester string, known bool) []string {
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
	if e.Action == bot.ActionPolicyDecided && known {
		actor = requester
	}
	return []string{stamp(e.At), strconv.FormatInt(e.Seq, 10), kind, actor, e.Subject, e.Repo,
		e.Environment, attempted, code, reason, join(failed)}
}

func accessReviewRow(e Event) []string {
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
	return []string{stamp(e.At), strconv.FormatInt(e.Seq, 10), e.Action, id, e.Actor, d.Digest,
		rawStr(d.Grants), rawStr(d.Added), rawStr(d.Removed), d.Outcome, reviewer, d.Note, stamp(d.TakenAt), stamp(d.SignedOffAt)}
}

func accessChangeRow(e Event) []string {
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
	return []string{stamp(e.At), strconv.FormatInt(e.Seq, 10), e.Action, login, idStr(d.GitHubID),
		e.Subject, d.Source, strings.Join(detail, "; "), stamp(d.DepartedAt), stamp(revoked), latency, d.LatencyBasis}
}

// FreezeWindow is a configured freeze window, listed in locks_and_freezes.csv.
type FreezeWindow struct {
	Repo, Environment, Name string
	Schedule                string // "2025-12-20T00:00:00Z .. 2026-01-02T00:00:00Z" or a cron spec and duration
}

// lockRow is a locks_and_freezes.csv row: a lock event, or a request the
// freeze refused (by its requester when the change is in the population).
func lockRow(e Event, requester string) []string {
	if e.Action == bot.ActionPolicyDecided {
		d := decode[bot.Decision](e.entry)
		c, _ := d.Check(bot.CheckFreeze)
		return []string{stamp(e.At), strconv.FormatInt(e.Seq, 10), "freeze_window.refused",
			e.Repo, e.Environment, "", requester, "request " + e.Subject, c.Detail, "", "", ""}
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
	return []string{stamp(e.At), strconv.FormatInt(e.Seq, 10), e.Action, e.Repo, e.Environment,
		d.Owner, by, d.How, d.Reason, stamp(d.CreatedAt), stamp(d.ExpiresAt), held}
}
