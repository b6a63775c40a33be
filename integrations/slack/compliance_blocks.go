package slack

import (
	"fmt"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
)

// Action, block and callback ids of the compliance messages (issue 6).
const (
	ActionReviewAcceptable    = "tollgate_review_acceptable"
	ActionReviewNotAcceptable = "tollgate_review_not_acceptable"
	CallbackReviewNote        = "tollgate_review_note"
	ActionAccessNoChanges     = "tollgate_access_no_changes"
	ActionAccessChangesNeeded = "tollgate_access_changes_needed"
	CallbackAccessNote        = "tollgate_access_note"
	blockReviewActions        = "tollgate_review_actions"
	blockAccessActions        = "tollgate_access_actions"
	blockNote                 = "note"
	actionNoteText            = "note_text"
)

// maxSectionText keeps a section under Slack's 3000-character limit.
const maxSectionText = 2900

// emergencyReviewBlocks renders the after-the-fact review of an emergency
// change: what went out, who deployed it and why, when the review is due
// (flagged when overdue), and either the review buttons or the verdict.
// r is the emergency change's request: where its environment needs the
// reviewer's security key, the buttons give way to one that opens the
// review page.
func emergencyReviewBlocks(r bot.Request, rev bot.EmergencyReview, l links, now time.Time) []slackapi.Block {
	due := slackDate(rev.DueAt)
	if rev.Pending() && rev.Overdue(now) {
		due += "\n:warning: *overdue*"
	}
	fields := []*slackapi.TextBlockObject{
		mrkdwn(fmt.Sprintf("*Commit*\n<%s|`%s`>", l.commit(rev.Repo, rev.SHA), short(rev.SHA))),
		mrkdwn("*Deployed by*\n" + mention(rev.Deployer)),
		mrkdwn("*Deployed*\n" + slackDate(rev.DeployedAt)),
		mrkdwn("*Review due*\n" + due),
		mrkdwn("*Reason*\n" + esc(orDash(strings.TrimSpace(rev.Ticket+" "+rev.Reason)))),
		mrkdwn("*Reviewers*\n" + esc(orDash(strings.Join(teamNames(rev.Approvers), ", ")))),
	}
	blocks := []slackapi.Block{
		slackapi.NewHeaderBlock(plain(fmt.Sprintf("Review emergency change %s → %s", rev.Repo, rev.Environment))),
		slackapi.NewSectionBlock(nil, fields, nil),
	}
	if rev.Pending() {
		blocks = append(blocks,
			slackapi.NewContextBlock("", mrkdwn(fmt.Sprintf("Request %s · deployed without approval through the emergency path · "+
				"an approver who did not deploy it reviews it after the fact (<%s|log>)", rev.RequestID, l.log(rev.RequestID)))))
		if needsKey(r, bot.CheckEmergencyMFA) {
			return append(blocks, reviewWithKeyButton(r, l))
		}
		return append(blocks, reviewButtons(rev))
	}
	verdict := fmt.Sprintf("%s *%s* by %s %s", outcomeIcon(rev.Outcome), outcomeText(rev.Outcome),
		mention(rev.Reviewer), slackDate(rev.ReviewedAt))
	if rev.Overdue(now) {
		verdict += fmt.Sprintf(" · :warning: late (due %s)", slackDate(rev.DueAt))
	}
	if rev.Note != "" {
		verdict += "\n>" + esc(rev.Note)
	}
	return append(blocks,
		slackapi.NewSectionBlock(mrkdwn("*Review*\n"+verdict), nil, nil),
		slackapi.NewContextBlock("", mrkdwn(fmt.Sprintf("Request %s · reviewed (<%s|log>)", rev.RequestID, l.log(rev.RequestID)))))
}

// reviewButtons are Review: acceptable (behind a confirmation) and Review:
// not acceptable (which asks for a note). They carry the request id only:
// bot decides who may review, live, at the click.
func reviewButtons(rev bot.EmergencyReview) slackapi.Block {
	ok := slackapi.NewButtonBlockElement(ActionReviewAcceptable, rev.RequestID, plain("Review: acceptable"))
	ok.Style = slackapi.StylePrimary
	ok.Confirm = slackapi.NewConfirmationBlockObject(plain("Acceptable?"),
		mrkdwn(fmt.Sprintf("Record that emergency change `%s` to *%s* was acceptable?", short(rev.SHA), esc(rev.Environment))),
		plain("Acceptable"), plain("Cancel"))
	notOK := slackapi.NewButtonBlockElement(ActionReviewNotAcceptable, rev.RequestID, plain("Review: not acceptable"))
	notOK.Style = slackapi.StyleDanger
	return slackapi.NewActionBlock(blockReviewActions, ok, notOK)
}

func outcomeIcon(o bot.ReviewOutcome) string {
	if o == bot.ReviewAcceptable {
		return ":white_check_mark:"
	}
	return ":x:"
}

func outcomeText(o bot.ReviewOutcome) string { return strings.ReplaceAll(string(o), "_", " ") }

// emergencyReviewFallback is the notification text of the review message.
func emergencyReviewFallback(rev bot.EmergencyReview) string {
	if rev.Pending() {
		return esc(fmt.Sprintf("Emergency change %s to %s by %s needs its after-the-fact review", rev.RequestID,
			rev.Environment, rev.Deployer.Login))
	}
	return esc(fmt.Sprintf("Emergency change %s to %s reviewed: %s", rev.RequestID, rev.Environment, outcomeText(rev.Outcome)))
}

// reminderText is an emergency review reminder.
func reminderText(rev bot.EmergencyReview, now time.Time) string {
	when := "due " + slackDate(rev.DueAt)
	if rev.Overdue(now) {
		when = ":warning: *overdue* since " + slackDate(rev.DueAt)
	}
	return fmt.Sprintf(":alarm_clock: Emergency change %s (%s `%s` to %s, deployed by %s %s) still awaits its review, %s.",
		rev.RequestID, esc(rev.Repo), short(rev.SHA), esc(rev.Environment), mention(rev.Deployer),
		slackDate(rev.DeployedAt), when)
}

// overdueText flags an emergency review that passed its deadline.
func overdueText(rev bot.EmergencyReview) string {
	return fmt.Sprintf(":warning: Emergency change %s (%s to %s, deployed by %s) is *overdue* for review: it was due %s. "+
		"An approver of %s must review it.", rev.RequestID, esc(rev.Repo), esc(rev.Environment), mention(rev.Deployer),
		slackDate(rev.DueAt), esc(orDash(strings.Join(teamNames(rev.Approvers), ", "))))
}

// lockReminderText reminds a lock's owner that they still hold it.
func lockReminderText(l bot.Lock, now time.Time) string {
	return fmt.Sprintf(":lock: You have held the lock on %s %s since %s (%s): %s. Every deploy there is blocked until "+
		"`/deploy unlock %s %s`.", esc(l.Repo), esc(l.Environment), slackDate(l.CreatedAt),
		now.Sub(l.CreatedAt).Round(time.Minute), esc(l.Reason), esc(l.Repo), esc(l.Environment))
}

// accessReviewBlocks renders an access review snapshot: what changed since
// the review it is compared with, who holds which role, and either the
// sign-off buttons or the sign-off.
func accessReviewBlocks(ar bot.AccessReview) []slackapi.Block {
	changes := "*Changes*\nfirst review: every grant below is new"
	if ar.PreviousID != "" {
		changes = fmt.Sprintf("*Changes since %s*\n%d added, %d removed", ar.PreviousID, len(ar.Added), len(ar.Removed))
		changes += grantLines("+", ar.Added) + grantLines("−", ar.Removed)
	}
	blocks := []slackapi.Block{
		slackapi.NewHeaderBlock(plain("Access review " + ar.ID)),
		slackapi.NewSectionBlock(mrkdwn(fmt.Sprintf("Taken %s by %s: %d grants of deploy, approve, emergency, admin "+
			"and access-reviewer rights, resolved live from GitHub teams.", slackDate(ar.TakenAt), esc(ar.TakenBy), len(ar.Grants))), nil, nil),
		slackapi.NewSectionBlock(mrkdwn(clip(changes)), nil, nil),
		slackapi.NewSectionBlock(mrkdwn(clip("*Who can do what*\n"+grantSummary(ar.Grants))), nil, nil),
	}
	footer := fmt.Sprintf("Digest %s · `tollgate access-review` prints the full list", shortDigest(ar.Digest))
	if !ar.Signed() {
		blocks = append(blocks, slackapi.NewContextBlock("", mrkdwn(footer+" · a member of the access reviewers signs it off")),
			accessButtons(ar))
		return blocks
	}
	icon := ":white_check_mark:"
	if ar.Outcome == bot.AccessChangesNeeded {
		icon = ":warning:"
	}
	signed := fmt.Sprintf("%s *%s* by %s %s", icon, strings.ReplaceAll(string(ar.Outcome), "_", " "),
		mention(ar.SignedOffBy), slackDate(ar.SignedOffAt))
	if ar.Note != "" {
		signed += "\n>" + esc(ar.Note)
	}
	return append(blocks, slackapi.NewSectionBlock(mrkdwn("*Sign-off*\n"+signed), nil, nil),
		slackapi.NewContextBlock("", mrkdwn(footer)))
}

// accessButtons are Reviewed, no changes (behind a confirmation) and
// Changes needed (which asks for a note); they carry the review id.
func accessButtons(ar bot.AccessReview) slackapi.Block {
	ok := slackapi.NewButtonBlockElement(ActionAccessNoChanges, ar.ID, plain("Reviewed, no changes"))
	ok.Style = slackapi.StylePrimary
	ok.Confirm = slackapi.NewConfirmationBlockObject(plain("Sign off?"),
		mrkdwn(fmt.Sprintf("Sign off access review %s: every one of its %d grants is still needed?", ar.ID, len(ar.Grants))),
		plain("Sign off"), plain("Cancel"))
	changes := slackapi.NewButtonBlockElement(ActionAccessChangesNeeded, ar.ID, plain("Changes needed"))
	changes.Style = slackapi.StyleDanger
	return slackapi.NewActionBlock(blockAccessActions, ok, changes)
}

// accessReviewFallback is the notification text of the access review message.
func accessReviewFallback(ar bot.AccessReview) string {
	if ar.Signed() {
		return esc(fmt.Sprintf("Access review %s signed off by %s: %s", ar.ID, ar.SignedOffBy.Login,
			strings.ReplaceAll(string(ar.Outcome), "_", " ")))
	}
	return fmt.Sprintf("Access review %s awaits sign-off: %d grants, %d added, %d removed", ar.ID, len(ar.Grants),
		len(ar.Added), len(ar.Removed))
}

// accessDueText says an access review is due.
func accessDueText(last *bot.AccessReview) string {
	if last == nil {
		return ":clipboard: No access review was ever signed off. `/deploy access-review` records who can deploy, " +
			"approve and use the emergency path, for an access reviewer to sign off."
	}
	// The review is as old as its snapshot, whenever it was signed off.
	return fmt.Sprintf(":clipboard: The last signed access review (%s) is of a snapshot taken %s; another is due. "+
		"`/deploy access-review` records a new snapshot.", last.ID, slackDate(last.TakenAt))
}

// grantLines lists grants one a line, at most 15.
func grantLines(sign string, gs []bot.AccessGrant) string {
	const most = 15
	var b strings.Builder
	for i, g := range gs {
		if i == most {
			fmt.Fprintf(&b, "\n… and %d more", len(gs)-most)
			break
		}
		fmt.Fprintf(&b, "\n%s %s", sign, esc(g.String()))
	}
	return b.String()
}

// grantSummary groups grants by where and role: "acme/shop production ·
// deploy: alice, carol".
func grantSummary(gs []bot.AccessGrant) string {
	type key struct{ where, role string }
	var order []key
	who := map[key][]string{}
	for _, g := range gs {
		where := "Tollgate-wide"
		if g.Repo != "" {
			where = g.Repo + " " + g.Environment
		}
		k := key{where, string(g.Role)}
		if _, ok := who[k]; !ok {
			order = append(order, k)
		}
		if !containsString(who[k], g.Login) {
			who[k] = append(who[k], g.Login)
		}
	}
	if len(order) == 0 {
		return "nobody"
	}
	lines := make([]string, len(order))
	for i, k := range order {
		lines[i] = fmt.Sprintf("%s · %s: %s", esc(k.where), k.role, esc(strings.Join(who[k], ", ")))
	}
	return strings.Join(lines, "\n")
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// clip shortens text to what a section holds.
func clip(text string) string {
	if len(text) <= maxSectionText {
		return text
	}
	cut := strings.LastIndex(text[:maxSectionText], "\n")
	if cut < 0 {
		cut = maxSectionText
	}
	return text[:cut] + "\n… (shortened; `tollgate access-review` prints everything)"
}

func shortDigest(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func teamNames(ts []bot.Team) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// noteModal asks for the note a negative verdict needs.
func noteModal(callbackID, meta, title, submit, question, label string) slackapi.ModalViewRequest {
	input := slackapi.NewPlainTextInputBlockElement(plain(label), actionNoteText)
	input.Multiline = true
	return slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		CallbackID:      callbackID,
		PrivateMetadata: meta,
		Title:           plain(title),
		Submit:          plain(submit),
		Close:           plain("Cancel"),
		Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{
			slackapi.NewSectionBlock(mrkdwn(question), nil, nil),
			slackapi.NewInputBlock(blockNote, plain("Note"), nil, input),
		}},
	}
}

// submittedNote reads the note of a submitted note modal.
func submittedNote(cb *slackapi.InteractionCallback) string {
	if cb.View.State == nil {
		return ""
	}
	return cb.View.State.Values[blockNote][actionNoteText].Value
}
