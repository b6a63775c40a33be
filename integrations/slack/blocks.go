package slack

import (
	"fmt"
	"slices"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
)

// Block ids of the request message.
const (
	blockActions = "tollgate_actions"
)

func plain(text string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.PlainTextType, text, false, false)
}

func mrkdwn(text string) *slackapi.TextBlockObject {
	return slackapi.NewTextBlockObject(slackapi.MarkdownType, text, false, false)
}

// links builds the URLs a message points to.
type links struct {
	web    string // GitHub web base, with trailing slash
	public string // Tollgate's public URL, no trailing slash
}

func (l links) commit(repo, sha string) string { return l.web + repo + "/commit/" + sha }
func (l links) pull(repo string, n int) string { return fmt.Sprintf("%s%s/pull/%d", l.web, repo, n) }
func (l links) compare(repo, from, to string) string {
	return l.web + repo + "/compare/" + from + "..." + to
}
func (l links) log(id string) string { return l.public + "/deployments/" + id }

// mention names a person: a Slack mention when they act from Slack (a
// Slack user id, nothing else, goes inside <@…>), else their GitHub login.
func mention(id bot.Identity) string {
	if _, user, ok := strings.Cut(id.ChatUser, "/"); ok && slackUserID.MatchString(user) {
		return fmt.Sprintf("<@%s> (%s)", user, esc(id.Login))
	}
	return esc(id.Login)
}

// slackDate renders t in the reader's time zone, with a UTC fallback.
func slackDate(t time.Time) string {
	return fmt.Sprintf("<!date^%d^{date_short_pretty} {time}|%s>", t.Unix(), t.UTC().Format("2006-01-02 15:04 UTC"))
}

// title is the message's headline.
func title(r bot.Request) string {
	switch r.Trigger {
	case bot.TriggerRollback:
		return fmt.Sprintf("Roll back %s → %s", r.Repo, r.Environment)
	case bot.TriggerEmergency:
		return fmt.Sprintf("Emergency deploy %s → %s", r.Repo, r.Environment)
	}
	return fmt.Sprintf("Deploy %s → %s", r.Repo, r.Environment)
}

// requestBlocks renders a request's message: while it awaits approval,
// everything an approver needs and the Approve/Reject buttons; afterwards,
// the same facts with what became of it. live is what runs on the
// environment now, if anything; review is an emergency change's
// after-the-fact review, nil while none is open.
func requestBlocks(r bot.Request, live *bot.Request, review *bot.EmergencyReview, l links, now time.Time) []slackapi.Block {
	valid := r.ValidApprovals(now)
	approvals := fmt.Sprintf("*Approvals*\n%d of %d%s", len(valid), r.RequiredApprovals, approversText(valid))
	if r.Trigger == bot.TriggerEmergency {
		approvals = "*Approvals*\nemergency: approvals skipped by policy"
	}
	fields := []*slackapi.TextBlockObject{
		mrkdwn(fmt.Sprintf("*Ref*\n`%s` at <%s|`%s`>", esc(r.Ref), l.commit(r.Repo, r.SHA), short(r.SHA))),
		mrkdwn("*Requested by*\n" + mention(r.Requester)),
		mrkdwn("*Checks*\n" + checksText(r)),
		mrkdwn(approvals),
	}
	if r.State == bot.StateAwaitingApproval {
		fields = append(fields, mrkdwn("*Live now*\n"+liveText(r, live, l)),
			mrkdwn("*Expires*\n"+slackDate(r.ApprovalDeadline)))
	}
	if (r.Reason != "" || r.Ticket != "") && r.Trigger != bot.TriggerEmergency {
		fields = append(fields, mrkdwn("*Reason*\n"+esc(strings.TrimSpace(r.Ticket+" "+r.Reason))))
	}
	blocks := []slackapi.Block{
		slackapi.NewHeaderBlock(plain(title(r))),
		slackapi.NewSectionBlock(nil, fields, nil),
	}
	if r.Trigger == bot.TriggerEmergency {
		blocks = append(blocks, emergencySection(r, review, now))
	}
	blocks = append(blocks,
		slackapi.NewSectionBlock(mrkdwn("*Pull request*\n"+prText(r, l)), nil, nil),
		slackapi.NewSectionBlock(mrkdwn("*Policy*\n"+policyText(r)), nil, nil),
		slackapi.NewContextBlock("", mrkdwn(fmt.Sprintf("Request %s · %s · %s", r.ID, r.Trigger, statusText(r, valid)))),
	)
	if r.State == bot.StateAwaitingApproval {
		blocks = append(blocks, approvalButtons(r, l))
	}
	return blocks
}

// emergencySection is an emergency change's own section: approvals were
// skipped by policy, why, and where its after-the-fact review stands.
func emergencySection(r bot.Request, rev *bot.EmergencyReview, now time.Time) slackapi.Block {
	text := ":rotating_light: *Emergency change*: approvals skipped by policy; an approver who did not deploy it reviews it afterwards.\n" +
		"*Reason* " + esc(orNone(r.Reason)) + " · *Ticket* " + esc(orNone(r.Ticket)) + "\n*After-the-fact review* "
	switch {
	case rev == nil && r.State == bot.StateSucceeded:
		text += "being opened"
	case rev == nil && (r.State.Terminal() || r.State == bot.StateFailed):
		text += "none: the change did not go out"
	case rev == nil:
		text += "opened when the deploy succeeds"
	case rev.Pending() && rev.Overdue(now):
		text += fmt.Sprintf(":warning: *overdue*: was due %s, from an approver of %s", slackDate(rev.DueAt), esc(orDash(strings.Join(teamNames(rev.Approvers), ", "))))
	case rev.Pending():
		text += fmt.Sprintf("pending: due %s, from an approver of %s", slackDate(rev.DueAt), esc(orDash(strings.Join(teamNames(rev.Approvers), ", "))))
	default:
		text += fmt.Sprintf("%s *%s* by %s %s", outcomeIcon(rev.Outcome), outcomeText(rev.Outcome), mention(rev.Reviewer), slackDate(rev.ReviewedAt))
		if rev.Overdue(now) {
			text += fmt.Sprintf(" · :warning: late (due %s)", slackDate(rev.DueAt))
		}
		if rev.Note != "" {
			text += "\n>" + esc(rev.Note)
		}
	}
	return slackapi.NewSectionBlock(mrkdwn(clip(text)), nil, nil)
}

// orNone is s, or "none given".
func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "none given"
	}
	return s
}

// approvalButtons are Approve (behind a confirmation naming environment
// and SHA, against accidental taps) and Reject (which asks for a reason).
// Where approvals need a security key, Approve opens Tollgate's approval
// page instead (approveWithKeyButton).
func approvalButtons(r bot.Request, l links) slackapi.Block {
	reject := slackapi.NewButtonBlockElement(ActionReject, buttonValue(r), plain("Reject"))
	reject.Style = slackapi.StyleDanger
	if needsKey(r, bot.CheckApprovalMFA) {
		return slackapi.NewActionBlock(blockActions, approveWithKeyButton(r, l), reject)
	}
	approve := slackapi.NewButtonBlockElement(ActionApprove, buttonValue(r), plain("Approve"))
	approve.Style = slackapi.StylePrimary
	confirmTitle, confirm := "Deploy to "+r.Environment+"?",
		fmt.Sprintf("Approve deploying `%s` of %s to *%s*?", short(r.SHA), esc(r.Repo), esc(r.Environment))
	if r.Trigger == bot.TriggerRollback {
		confirmTitle, confirm = "Roll back "+r.Environment+"?",
			fmt.Sprintf("Approve rolling %s *%s* back to %s (commit `%s`)?", esc(r.Repo), esc(r.Environment), rollbackTarget(r), short(r.SHA))
	}
	approve.Confirm = slackapi.NewConfirmationBlockObject(plain(confirmTitle), mrkdwn(confirm), plain("Approve"), plain("Cancel"))
	return slackapi.NewActionBlock(blockActions, approve, reject)
}

func liveText(r bot.Request, live *bot.Request, l links) string {
	switch {
	case live == nil:
		return "nothing deployed by Tollgate yet"
	case live.SHA == r.SHA:
		return fmt.Sprintf("`%s`, the same commit", short(live.SHA))
	}
	return fmt.Sprintf("`%s` (<%s|compare>)", short(live.SHA), l.compare(r.Repo, live.SHA, r.SHA))
}

func checksText(r bot.Request) string {
	if r.Decision == nil {
		return "not looked up"
	}
	if c, ok := r.Decision.Check(bot.CheckChecks); ok {
		return outcomeEmoji(c.Outcome) + " " + esc(c.Detail)
	}
	return "not required"
}

func approversText(as []bot.Approval) string {
	if len(as) == 0 {
		return ""
	}
	names := make([]string, len(as))
	for i, a := range as {
		names[i] = mention(a.Approver)
	}
	return ": " + strings.Join(names, ", ")
}

func prText(r bot.Request, l links) string {
	pr := r.PR
	if pr == nil {
		return "none found for this commit"
	}
	var reviewers []string
	for _, rv := range pr.Reviews {
		if rv.State == bot.ReviewApproved && !rv.Dismissed {
			reviewers = append(reviewers, esc(rv.User.Login))
		}
	}
	reviewed := "no approving review"
	if len(reviewers) > 0 {
		reviewed = "approved by " + strings.Join(reviewers, ", ")
	}
	return fmt.Sprintf("<%s|#%d %s> by %s · %s", l.pull(r.Repo, pr.Number), pr.Number, esc(pr.Title),
		esc(pr.Author.Login), reviewed)
}

func policyText(r bot.Request) string {
	if r.Decision == nil || len(r.Decision.Checks) == 0 {
		return "no decision recorded"
	}
	lines := make([]string, len(r.Decision.Checks))
	for i, c := range r.Decision.Checks {
		lines[i] = fmt.Sprintf("%s %s: %s", outcomeEmoji(c.Outcome), c.Name, esc(c.Detail))
	}
	return strings.Join(lines, "\n")
}

func outcomeEmoji(o bot.CheckOutcome) string {
	switch o {
	case bot.OutcomePass:
		return ":white_check_mark:"
	case bot.OutcomeFail:
		return ":x:"
	}
	return ":heavy_minus_sign:"
}

// statusText says where the request is, in the message's footer.
func statusText(r bot.Request, valid []bot.Approval) string {
	switch r.State {
	case bot.StateAwaitingApproval:
		return fmt.Sprintf("awaiting %d more approval(s)", max(r.RequiredApprovals-len(valid), 0))
	case bot.StateSucceeded:
		return "deployed " + stamp(r.FinishedAt)
	}
	text := strings.ReplaceAll(string(r.State), "_", " ")
	if r.StateReason != "" {
		text += ": " + esc(r.StateReason)
	}
	return text
}

// fallbackText is the notification text of the request message: plain
// words, escaped whole (the ref is anyone's branch name).
func fallbackText(r bot.Request) string {
	return esc(fmt.Sprintf("%s: %s (%s) — %s", title(r), short(r.SHA), r.Ref, strings.ReplaceAll(string(r.State), "_", " ")))
}

// threadText is the progress line posted in the message's thread for a
// state change; "" when there is nothing to say.
func threadText(r bot.Request, l links) string {
	switch r.State {
	case bot.StateQueued:
		return queuedText(r)
	case bot.StateRunning:
		if r.Trigger == bot.TriggerRollback {
			return fmt.Sprintf(":rocket: Running: rolling %s back to %s.", esc(r.Environment), rollbackTarget(r))
		}
		return fmt.Sprintf(":rocket: Running: deploying `%s` to %s.", short(r.SHA), esc(r.Environment))
	case bot.StateSucceeded:
		if r.Trigger == bot.TriggerRollback {
			return fmt.Sprintf(":white_check_mark: Rolled %s back to %s%s in %s. <%s|Log>", esc(r.Environment), rollbackTarget(r),
				serversText(r), duration(r), l.log(r.ID))
		}
		return fmt.Sprintf(":white_check_mark: Deployed `%s` to %s%s in %s. <%s|Log>", short(r.SHA), esc(r.Environment),
			serversText(r), duration(r), l.log(r.ID))
	case bot.StateFailed, bot.StateInterrupted:
		return fmt.Sprintf(":x: %s %s after %s: %s. <%s|Log> %s", whatRan(r),
			strings.ReplaceAll(string(r.State), "_", " "), duration(r), esc(resultError(r)), l.log(r.ID), mentions(r))
	case bot.StateRolledBack:
		return fmt.Sprintf(":leftwards_arrow_with_hook: %s failed after %s and was rolled back: %s. <%s|Log> %s",
			whatRan(r), duration(r), esc(r.StateReason), l.log(r.ID), mentions(r))
	case bot.StateRejected, bot.StateExpired, bot.StateCanceled:
		return fmt.Sprintf(":no_entry_sign: %s: %s", strings.ToUpper(string(r.State[:1]))+string(r.State[1:]), esc(r.StateReason))
	case bot.StateAwaitingApproval:
		people := []string{mention(r.Requester)} // the requester, and everyone whose approval it held
		for _, a := range r.Approvals {
			if m := mention(a.Approver); !slices.Contains(people, m) {
				people = append(people, m)
			}
		}
		return fmt.Sprintf(":arrows_counterclockwise: Back to awaiting approval: %s. cc %s", esc(r.StateReason), strings.Join(people, ", "))
	}
	return ""
}

// whatRan names what a request ran, as the subject of a sentence: a
// deploy of its commit, or a rollback to a release (the request's commit
// is not what a rollback puts live).
func whatRan(r bot.Request) string {
	if r.Trigger == bot.TriggerRollback {
		return fmt.Sprintf("Rollback of %s to %s", esc(r.Environment), rollbackTarget(r))
	}
	return fmt.Sprintf("Deploy of `%s` to %s", short(r.SHA), esc(r.Environment))
}

// rollbackTarget is the release a rollback went to: the one it ran, or the
// one asked for, or, asked for none, the previous release.
func rollbackTarget(r bot.Request) string {
	switch {
	case r.Result != nil && r.Result.Release != "":
		return "release `" + esc(r.Result.Release) + "`"
	case r.Release != "":
		return "release `" + esc(r.Release) + "`"
	}
	return "the previous release"
}

// queuedText says why a request was queued: who approved it, or, when it
// needed no approval (a merge, an emergency change), what triggered it and
// who asked. It also renders the queued step of a request already past it.
func queuedText(r bot.Request) string {
	why := ""
	if r.State == bot.StateQueued {
		why = esc(r.StateReason)
	}
	if why == "" {
		if valid := r.ValidApprovals(r.QueuedAt); len(valid) > 0 {
			names := make([]string, len(valid))
			for i, a := range valid {
				names[i] = esc(a.Approver.Login)
			}
			why = "approved by " + strings.Join(names, ", ")
		}
	}
	if why == "" {
		why = triggerText(r) + " by " + esc(r.Requester.Login)
		switch {
		case r.Trigger == bot.TriggerEmergency:
			why += "; approvals skipped, review due afterwards"
		case r.RequiredApprovals <= 0:
			why += "; no approval required for " + esc(r.Environment)
		}
	}
	return ":hourglass_flowing_sand: Queued: " + why + "."
}

// triggerText names what asked for a request.
func triggerText(r bot.Request) string {
	pr := ""
	if r.PR != nil {
		pr = fmt.Sprintf(" of PR #%d", r.PR.Number)
	}
	switch r.Trigger {
	case bot.TriggerMerge:
		if pr == "" {
			return "merge to " + esc(r.Ref)
		}
		return "merge" + pr
	case bot.TriggerLabel:
		return "deploy label on PR" + strings.TrimPrefix(pr, " of PR")
	case bot.TriggerComment:
		return "PR comment" + strings.TrimPrefix(pr, " of PR")
	case bot.TriggerSlack:
		return "/deploy"
	case bot.TriggerGitHubDeployment:
		return "GitHub deployment"
	case bot.TriggerProtectionRule:
		return "GitHub Actions run"
	case bot.TriggerEmergency:
		if r.Ticket != "" {
			return "emergency change (" + esc(r.Ticket) + ")"
		}
		return "emergency change"
	case bot.TriggerRollback:
		return "rollback"
	}
	return esc(string(r.Trigger))
}

func serversText(r bot.Request) string {
	if r.Result == nil || len(r.Result.Servers) == 0 {
		return ""
	}
	return " (" + esc(strings.Join(r.Result.Servers, ", ")) + ")"
}

func duration(r bot.Request) string {
	if r.Result == nil {
		return "-"
	}
	return r.Result.Duration.Round(time.Second).String()
}

func resultError(r bot.Request) string {
	if r.Result != nil && r.Result.Error != "" {
		return r.Result.Error
	}
	return r.StateReason
}

// mentions names the requester and approvers of a failed deploy.
func mentions(r bot.Request) string {
	people := []string{mention(r.Requester)}
	for _, a := range r.Approvals {
		if a.RevokedAt.IsZero() {
			people = append(people, mention(a.Approver))
		}
	}
	return "cc " + strings.Join(people, ", ")
}
