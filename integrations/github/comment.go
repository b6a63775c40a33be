package github

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	gh "github.com/google/go-github/v60/github"
	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy"
)

// commentMarker starts every Tollgate PR comment; it names the request,
// so the comment can be found again if its id was never recorded.
func commentMarker(requestID string) string { return "<!-- tollgate:request " + requestID + " -->" }

// AuditEntry is the audit log entry a PR comment cites, with the signed
// checkpoint that covers it (issue 6 anchors these heads in GitHub).
type AuditEntry struct {
	Seq            int64
	LeafHash       string // hex
	CheckpointSize int64  // 0: no checkpoint covers the entry yet
	RootPrefix     string // first hex digits of the checkpoint's root hash
}

// timeLayout is how comments show instants: UTC, to the second.
const timeLayout = "2006-01-02 15:04:05 UTC"

// renderComment is the body of the one PR comment of request r; review is
// the after-the-fact review of an emergency change, nil when none is open.
// It is a pure function of its inputs, so golden files pin it down.
func renderComment(r bot.Request, logURL string, audit *AuditEntry, review *bot.EmergencyReview) string {
	var b strings.Builder
	b.WriteString(commentMarker(r.ID) + "\n")
	fmt.Fprintf(&b, "### %s\n\n", headline(r))
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(&b, "| %s | %s |\n", k, v) }
	if logURL != "" {
		row("Request", fmt.Sprintf("[%s](%s)", r.ID, logURL))
	} else {
		row("Request", r.ID)
	}
	row("Environment", mdText(r.Environment))
	commit := "`" + r.SHA + "`"
	if r.Ref != "" && r.Ref != r.SHA {
		commit += " (" + mdCode(r.Ref) + ")"
	}
	row("Commit", commit)
	row("Trigger", triggerText(r))
	row("Requested by", "@"+r.Requester.Login+" at "+r.CreatedAt.UTC().Format(timeLayout))
	if r.Trigger == bot.TriggerEmergency {
		row("Approved by", "emergency: approvals skipped by policy (reviewed after the fact, below)")
	} else {
		row("Approved by", approvalsText(r))
	}
	if out := r.Result; out != nil {
		if len(out.Servers) > 0 {
			row("Servers", mdCodeList(out.Servers))
		}
		if out.Release != "" {
			row("Release", mdCode(out.Release))
		}
		row("Files changed", fmt.Sprintf("%d (%s)", out.FilesSent, deploy.FormatBytes(out.BytesSent)))
		row("Duration", out.Duration.Round(time.Second).String())
	}
	if !r.FinishedAt.IsZero() {
		row("Finished", r.FinishedAt.UTC().Format(timeLayout))
	}
	row("Result", resultText(r))
	b.WriteString("\n")
	if why, ok := denialReason(r); ok {
		fmt.Fprintf(&b, "**Why:** %s\n\n", mdText(why))
		if hint := denialHint(r); hint != "" {
			fmt.Fprintf(&b, "**What you can do:** %s\n\n", hint)
		}
	}
	if r.Trigger == bot.TriggerEmergency {
		writeEmergency(&b, r, review)
	}
	if r.State == bot.StateAwaitingApproval {
		fmt.Fprintf(&b, "**To approve:** comment `/approve %s` (someone in this environment's approvers, not @%s", r.ID, r.Requester.Login)
		if r.PR != nil && r.PR.Author.Login != "" && !r.PR.Author.Same(r.Requester) {
			fmt.Fprintf(&b, " nor the PR author @%s", r.PR.Author.Login)
		}
		b.WriteString(").")
		if !r.ApprovalDeadline.IsZero() {
			fmt.Fprintf(&b, " The request expires at %s.", r.ApprovalDeadline.UTC().Format(timeLayout))
		}
		fmt.Fprintf(&b, " To reject: `/reject %s <reason>`.\n\n", r.ID)
	}
	if r.Result != nil && r.Result.Error != "" {
		fmt.Fprintf(&b, "<details><summary>Error</summary>\n\n```\n%s\n```\n</details>\n\n",
			strings.ReplaceAll(clipRunes(r.Result.Error, 2000), "```", "'''"))
	}
	if audit != nil {
		fmt.Fprintf(&b, "**Audit entry** #%d · leaf `%s`", audit.Seq, audit.LeafHash)
		if audit.CheckpointSize > 0 {
			fmt.Fprintf(&b, " · checkpoint: tree size %d, root `%s…`", audit.CheckpointSize, audit.RootPrefix)
		} else {
			b.WriteString(" · not yet covered by a signed checkpoint")
		}
		fmt.Fprintf(&b, "\nCheck it with `tollgate audit prove %d`", audit.Seq)
		if audit.CheckpointSize == 0 {
			b.WriteString(" once a signed checkpoint covers it (Tollgate signs one every `audit.checkpoint_every` entries and when it stops; `tollgate audit checkpoint` signs one now)")
		}
		b.WriteString(".\n")
	}
	return b.String()
}

func headline(r bot.Request) string {
	sha, env := "`"+short(r.SHA)+"`", "**"+mdText(r.Environment)+"**"
	switch r.State {
	case bot.StateRequested, bot.StateAwaitingApproval:
		return fmt.Sprintf("⏳ Deploy of %s to %s is waiting for approval", sha, env)
	case bot.StateQueued:
		return fmt.Sprintf("🕓 Deploy of %s to %s is queued", sha, env)
	case bot.StateRunning:
		return fmt.Sprintf("🚀 Deploying %s to %s", sha, env)
	case bot.StateSucceeded:
		return fmt.Sprintf("✅ Deployed %s to %s", sha, env)
	case bot.StateFailed:
		return fmt.Sprintf("❌ Deploy of %s to %s failed", sha, env)
	case bot.StateRolledBack:
		return fmt.Sprintf("↩️ Deploy of %s to %s failed and was rolled back", sha, env)
	case bot.StateInterrupted:
		return fmt.Sprintf("⚠️ Deploy of %s to %s was interrupted", sha, env)
	case bot.StateRejected:
		if refusedByPolicy(r) {
			return fmt.Sprintf("⛔ Deploy of %s to %s was refused", sha, env)
		}
		return fmt.Sprintf("⛔ Deploy of %s to %s was rejected", sha, env)
	case bot.StateExpired:
		return fmt.Sprintf("⌛ Deploy of %s to %s expired before it was approved", sha, env)
	case bot.StateCanceled:
		return fmt.Sprintf("🚫 Deploy of %s to %s was canceled", sha, env)
	}
	return fmt.Sprintf("Deploy of %s to %s: %s", sha, env, r.State)
}

func refusedByPolicy(r bot.Request) bool { return r.Decision != nil && !r.Decision.Allowed }

func triggerText(r bot.Request) string {
	pr := ""
	if r.PR != nil && r.PR.Number > 0 {
		pr = fmt.Sprintf(" #%d", r.PR.Number)
	}
	switch r.Trigger {
	case bot.TriggerMerge:
		return "merge of" + pr
	case bot.TriggerLabel:
		return "label on" + pr
	case bot.TriggerComment:
		return "comment on" + pr
	case bot.TriggerSlack:
		return "Slack"
	case bot.TriggerGitHubDeployment:
		return fmt.Sprintf("GitHub deployment %d", r.GitHubDeploymentID)
	case bot.TriggerProtectionRule:
		if r.ProtectionRule != nil {
			return fmt.Sprintf("GitHub Actions run %d", r.ProtectionRule.RunID)
		}
		return "GitHub Actions"
	case bot.TriggerEmergency:
		return "**emergency change**"
	case bot.TriggerRollback:
		return "rollback"
	}
	return mdText(string(r.Trigger))
}

// writeEmergency is the emergency section: approvals were skipped by
// policy, why, and the after-the-fact review.
func writeEmergency(b *strings.Builder, r bot.Request, review *bot.EmergencyReview) {
	b.WriteString("#### 🚨 Emergency change\n\n")
	b.WriteString("Approvals were skipped by policy: the emergency path deploys without them, and an approver who did not deploy the change reviews it afterwards.\n\n")
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(b, "| %s | %s |\n", k, v) }
	row("Reason", orNone(mdText(r.Reason)))
	row("Ticket", orNone(mdText(r.Ticket)))
	row("Review", reviewText(r, review))
	if review != nil && review.Note != "" {
		row("Review note", mdText(review.Note))
	}
	b.WriteString("\n")
}

// reviewText says where the after-the-fact review of emergency change r
// stands: its verdict, or when it is due.
func reviewText(r bot.Request, rev *bot.EmergencyReview) string {
	switch {
	case rev == nil && (r.State == bot.StateSucceeded):
		return "⏳ being opened"
	case rev == nil && ended(r):
		return "none: the change did not go out"
	case rev == nil:
		return "opened when the deploy succeeds"
	case rev.Pending() && !rev.OverdueAt.IsZero():
		return fmt.Sprintf("⚠️ **overdue**: was due by %s, from an approver of %s", rev.DueAt.UTC().Format(timeLayout), teams(rev.Approvers))
	case rev.Pending():
		return fmt.Sprintf("⏳ pending: due by %s, from an approver of %s", rev.DueAt.UTC().Format(timeLayout), teams(rev.Approvers))
	}
	icon := "✅"
	if rev.Outcome != bot.ReviewAcceptable {
		icon = "❌"
	}
	s := fmt.Sprintf("%s **%s** by @%s at %s", icon, strings.ReplaceAll(string(rev.Outcome), "_", " "), rev.Reviewer.Login,
		rev.ReviewedAt.UTC().Format(timeLayout))
	if rev.ReviewedAt.After(rev.DueAt) {
		s += fmt.Sprintf(" (late: was due by %s)", rev.DueAt.UTC().Format(timeLayout))
	}
	return s
}

// teams lists teams as text, "none configured" for none.
func teams(ts []bot.Team) string {
	if len(ts) == 0 {
		return "the environment's approvers (none configured)"
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = mdText(t.String())
	}
	return strings.Join(names, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "none given"
	}
	return s
}

func approvalsText(r bot.Request) string {
	at := r.QueuedAt
	if at.IsZero() {
		at = r.UpdatedAt
	}
	valid := r.ValidApprovals(at)
	if r.QueuedAt.IsZero() {
		// Still waiting: show everything not revoked, the deadline tells the rest.
		valid = nil
		for _, a := range r.Approvals {
			if a.RevokedAt.IsZero() && a.SHA == r.SHA {
				valid = append(valid, a)
			}
		}
	}
	if len(valid) == 0 {
		if r.RequiredApprovals == 0 {
			return "not required"
		}
		return fmt.Sprintf("0 of %d required", r.RequiredApprovals)
	}
	parts := make([]string, len(valid))
	for i, a := range valid {
		parts[i] = "@" + a.Approver.Login + " at " + a.At.UTC().Format(timeLayout)
	}
	s := strings.Join(parts, ", ")
	if len(valid) < r.RequiredApprovals {
		s += fmt.Sprintf(" (%d of %d required)", len(valid), r.RequiredApprovals)
	}
	return s
}

func resultText(r bot.Request) string {
	switch r.State {
	case bot.StateRolledBack:
		return "failed; the previous release was restored"
	case bot.StateRejected, bot.StateExpired, bot.StateCanceled:
		return string(r.State) + "; nothing was deployed"
	}
	return string(r.State)
}

// denialReason is why a request ended without deploying.
func denialReason(r bot.Request) (string, bool) {
	switch r.State {
	case bot.StateRejected, bot.StateExpired, bot.StateCanceled:
	default:
		return "", false
	}
	if refusedByPolicy(r) && r.Decision.Reason != "" {
		return r.Decision.Reason, true
	}
	if r.StateReason != "" {
		return r.StateReason, true
	}
	return string(r.State), true
}

// denialHint tells the person what to do next about a refusal.
func denialHint(r bot.Request) string {
	if r.State == bot.StateExpired {
		return "ask for the deploy again and have it approved within the approval window."
	}
	if !refusedByPolicy(r) {
		return ""
	}
	again := "then ask again"
	if r.Trigger == bot.TriggerLabel {
		again = "then add the label again"
	}
	switch r.Decision.Code {
	case bot.CodeNotDeployer:
		return "ask a member of the environment's deployers team to deploy, or ask a team maintainer to add you."
	case bot.CodeNoReview:
		return "get an approving review on the PR's final commit from someone other than its author, merge, " + again + "."
	case bot.CodeChecksFailed:
		return "make the failing checks pass on this commit, " + again + "."
	case bot.CodeStaleSHA:
		return "the pull request moved on since the label was added; add the label again to deploy its current head."
	case bot.CodeBranchNotAllowed:
		return "merge the change into one of the environment's deploy branches, " + again + "."
	case bot.CodeFrozen:
		return "wait for the freeze window to end, or use the emergency path if this cannot wait."
	case bot.CodeLocked:
		return "ask the lock's owner to unlock the environment, " + again + "."
	case bot.CodeTicketMissing:
		return "reference the change ticket in the request, " + again + "."
	case bot.CodeUnknownEnv:
		return "use one of the environments configured for this repository."
	case bot.CodeUnknownRef:
		return "check the branch, tag or SHA exists in this repository."
	case bot.CodeUntrustedRun:
		return "deploy from a workflow run started by a push or workflow_dispatch, not one a pull request or comment starts."
	}
	return ""
}

// mdText makes free text safe inside a table cell or paragraph: no
// HTML, no table breaks, no line breaks, no accidental mentions.
func mdText(s string) string {
	r := strings.NewReplacer("\r", " ", "\n", " ", "|", "\\|", "<", "&lt;", ">", "&gt;", "@", "@\u200b", "`", "'")
	return r.Replace(clipRunes(s, 1000))
}

func mdCode(s string) string { return "`" + strings.ReplaceAll(clipRunes(s, 200), "`", "'") + "`" }

func mdCodeList(xs []string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = mdCode(x)
	}
	return strings.Join(out, ", ")
}

// Comments reacts to and replies on PR comments as the app; it satisfies
// the webhook dispatcher's CommentReactor and CommentReplier.
type Comments struct{ app *App }

// NewComments returns a Comments over app's installations.
func NewComments(app *App) *Comments { return &Comments{app: app} }

// ReactEyes adds 👀 to comment commentID of repo (GitHub answers an
// existing reaction with 200, so repeating is harmless).
func (c *Comments) ReactEyes(ctx context.Context, repo string, commentID int64) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	cl, err := c.app.ForRepo(ctx, repo)
	if err != nil {
		return fmt.Errorf("reacting to comment %d in %s: %w", commentID, repo, err)
	}
	if _, _, err := cl.Reactions.CreateIssueCommentReaction(ctx, owner, name, commentID, "eyes"); err != nil {
		return fmt.Errorf("reacting to comment %d in %s: %w", commentID, repo, err)
	}
	return nil
}

// ReplyToComment posts body on issue or PR number of repo.
func (c *Comments) ReplyToComment(ctx context.Context, repo string, number int, body string) error {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	cl, err := c.app.ForRepo(ctx, repo)
	if err != nil {
		return fmt.Errorf("replying on %s#%d: %w", repo, number, err)
	}
	if _, _, err := cl.Issues.CreateComment(ctx, owner, name, number, &gh.IssueComment{Body: gh.String(body)}); err != nil {
		return fmt.Errorf("replying on %s#%d: %w", repo, number, err)
	}
	return nil
}

func (rp *Reporter) knownComment(r bot.Request) int64 {
	if v := r.ExternalRefs[RefComment]; v != "" {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil {
			return id
		}
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.comments[r.ID]
}

// findComment looks for the request's comment among the PR's comments
// (by its marker), in case its id was never recorded. Only this App's
// comments count: another bot (another App, a workflow's github-actions)
// can post the marker, and adopting its comment would leave Tollgate
// unable to edit it and the PR showing what that bot wrote.
func (rp *Reporter) findComment(ctx context.Context, c *gh.Client, owner, name string, number int, requestID string) (int64, error) {
	marker := commentMarker(requestID)
	page := 0
	for range maxPages {
		cs, resp, err := listComments(ctx, c, owner, name, number, page)
		if err != nil {
			return 0, fmt.Errorf("listing comments of %s/%s#%d: %w", owner, name, number, err)
		}
		for _, cm := range cs {
			if strings.HasPrefix(cm.GetBody(), marker) && rp.cfg.App.madeByThisApp(cm.madeByApp, cm.User) {
				return cm.GetID(), nil
			}
		}
		if resp.NextPage == 0 {
			break
		}
		page = resp.NextPage
	}
	return 0, nil
}
