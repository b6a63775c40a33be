package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
)

// accessReviewCommand is `/deploy access-review`: take a snapshot of who
// can do what and ask the access reviewers to sign it off.
const accessReviewCommand = "access-review"

// accessReviewUsage is its line in /deploy help.
const accessReviewUsage = "/deploy access-review   (record who can deploy, approve and use the emergency path, for sign-off)"

// serveComplianceInteraction handles the compliance buttons and note
// modals the way approvals are handled: a verdict without a note is
// persisted and acknowledged, then carried out from the inbox; a verdict
// that needs a note opens its modal at once (the trigger_id lives 3 s),
// and the submitted note is persisted. It reports whether cb was one of
// them, in which case the response is written.
func (h *Handler) serveComplianceInteraction(ctx context.Context, w http.ResponseWriter, cb *slackapi.InteractionCallback, body []byte) bool {
	kind := eventBlockActions
	switch cb.Type {
	case slackapi.InteractionTypeBlockActions:
		switch firstAction(cb).ActionID {
		case ActionReviewAcceptable, ActionAccessNoChanges:
		case ActionReviewNotAcceptable:
			h.openReviewNoteModal(ctx, cb)
			w.WriteHeader(http.StatusOK)
			return true
		case ActionAccessChangesNeeded:
			h.openAccessNoteModal(ctx, cb)
			w.WriteHeader(http.StatusOK)
			return true
		default:
			return false
		}
	case slackapi.InteractionTypeViewSubmission:
		if cb.View.CallbackID != CallbackReviewNote && cb.View.CallbackID != CallbackAccessNote {
			return false
		}
		if strings.TrimSpace(submittedNote(cb)) == "" {
			writeJSON(w, slackapi.NewErrorsViewSubmissionResponse(map[string]string{blockNote: "Write what is wrong."}))
			return true
		}
		kind = eventViewSubmission
	default:
		return false
	}
	if err := h.enqueue(ctx, kind, body); err != nil {
		h.log.ErrorContext(ctx, "persisting a review", slog.String("kind", kind), slog.Any("err", err))
		if kind == eventViewSubmission {
			writeJSON(w, slackapi.NewErrorsViewSubmissionResponse(map[string]string{blockNote: "Tollgate could not record this; try again."}))
			return true
		}
		http.Error(w, "could not record the click", http.StatusInternalServerError)
		return true
	}
	w.WriteHeader(http.StatusOK)
	return true
}

// noteMetadata travels in a note modal's private_metadata.
type noteMetadata struct {
	ID      string `json:"id"` // request id or access review id
	Channel string `json:"channel"`
}

// clickChannel is where a click happened, for ephemeral replies.
func clickChannel(cb *slackapi.InteractionCallback) string {
	if cb.Channel.ID != "" {
		return cb.Channel.ID
	}
	return cb.Container.ChannelID
}

// openReviewNoteModal asks why an emergency change was not acceptable,
// after checking the clicker is linked and the change awaits review; who
// may review is bot's decision when the note is submitted.
func (h *Handler) openReviewNoteModal(ctx context.Context, cb *slackapi.InteractionCallback) {
	id, channel := firstAction(cb).Value, clickChannel(cb)
	if !h.linkedOrRefused(ctx, cb, channel) {
		return
	}
	pending, err := h.svc.EmergencyReviews(ctx, true)
	if err != nil {
		h.log.ErrorContext(ctx, "review click: listing pending reviews", slog.Any("err", err))
		h.refuseLater(cb, channel, "Tollgate could not look this review up; click again.")
		return
	}
	var rev *bot.EmergencyReview
	for i := range pending {
		if pending[i].RequestID == id {
			rev = &pending[i]
		}
	}
	if rev == nil {
		h.refuseLater(cb, channel, fmt.Sprintf("%s is not an emergency change awaiting review", id))
		return
	}
	meta, _ := json.Marshal(noteMetadata{ID: id, Channel: channel}) // two strings: cannot fail
	h.openModal(ctx, cb, channel, noteModal(CallbackReviewNote, string(meta), "Not acceptable", "Record",
		fmt.Sprintf("Emergency change %s: %s `%s` to *%s* by %s. What was not acceptable about it?",
			rev.RequestID, esc(rev.Repo), short(rev.SHA), esc(rev.Environment), esc(rev.Deployer.Login)),
		"What should have happened instead?"))
}

// openAccessNoteModal asks which access changes are needed.
func (h *Handler) openAccessNoteModal(ctx context.Context, cb *slackapi.InteractionCallback) {
	id, channel := firstAction(cb).Value, clickChannel(cb)
	if !h.linkedOrRefused(ctx, cb, channel) {
		return
	}
	meta, _ := json.Marshal(noteMetadata{ID: id, Channel: channel}) // two strings: cannot fail
	h.openModal(ctx, cb, channel, noteModal(CallbackAccessNote, string(meta), "Changes needed", "Sign off",
		fmt.Sprintf("Access review %s: which grants must change?", esc(id)), "Who should lose or gain which right?"))
}

// linkedOrRefused tells an unlinked clicker why nothing happens.
func (h *Handler) linkedOrRefused(ctx context.Context, cb *slackapi.InteractionCallback, channel string) bool {
	_, err := h.svc.IdentityFor(ctx, slackAccount(cb.Team.ID, cb.User.ID))
	if err == nil {
		return true
	}
	if ref, ok := bot.AsRefusal(err); ok {
		h.refuseLater(cb, channel, ref.Reason)
		return false
	}
	h.log.ErrorContext(ctx, "identifying a clicker", slog.Any("err", err))
	h.refuseLater(cb, channel, "Tollgate could not identify you; click again.")
	return false
}

// refuseLater replies to the clicker after the click was acknowledged.
func (h *Handler) refuseLater(cb *slackapi.InteractionCallback, channel, text string) {
	h.background(func(ctx context.Context) { h.reply(ctx, cb.ResponseURL, channel, cb.User.ID, ":no_entry: "+esc(text)) })
}

func (h *Handler) openModal(ctx context.Context, cb *slackapi.InteractionCallback, channel string, v slackapi.ModalViewRequest) {
	vctx, cancel := context.WithTimeout(ctx, viewsOpenTimeout)
	defer cancel()
	if _, err := h.api.OpenViewContext(vctx, cb.TriggerID, v); err != nil {
		h.log.ErrorContext(ctx, "opening a note dialog", slog.String("callback", v.CallbackID), slog.Any("err", err))
		h.refuseLater(cb, channel, "Slack could not open the dialog; click the button again.")
	}
}

// runComplianceItem carries out a persisted compliance click or note; it
// reports false for items that are not one.
func (h *Handler) runComplianceItem(ctx context.Context, eventType string, cb *slackapi.InteractionCallback) (bool, error) {
	if eventType == eventBlockActions {
		a := firstAction(cb)
		switch a.ActionID {
		case ActionReviewAcceptable:
			return true, h.runReview(ctx, cb, cb.ResponseURL, clickChannel(cb), a.Value, bot.ReviewAcceptable, "")
		case ActionAccessNoChanges:
			return true, h.runSignOff(ctx, cb, cb.ResponseURL, clickChannel(cb), a.Value, bot.AccessNoChanges, "")
		}
		return false, nil
	}
	if eventType != eventViewSubmission || (cb.View.CallbackID != CallbackReviewNote && cb.View.CallbackID != CallbackAccessNote) {
		return false, nil
	}
	var meta noteMetadata
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.ID == "" {
		return true, fmt.Errorf("note submission by %s: bad private metadata: %w", cb.User.ID, err)
	}
	if cb.View.CallbackID == CallbackReviewNote {
		return true, h.runReview(ctx, cb, "", meta.Channel, meta.ID, bot.ReviewNotAcceptable, submittedNote(cb))
	}
	return true, h.runSignOff(ctx, cb, "", meta.Channel, meta.ID, bot.AccessChangesNeeded, submittedNote(cb))
}

// runReview records an emergency review; bot refuses (and audits) a
// reviewer who is not an approver now, or who deployed the change.
func (h *Handler) runReview(ctx context.Context, cb *slackapi.InteractionCallback, responseURL, channel, id string, o bot.ReviewOutcome, note string) error {
	who, err := h.svc.IdentityFor(ctx, slackAccount(cb.Team.ID, cb.User.ID))
	if err != nil {
		return h.replyRefusal(ctx, responseURL, channel, cb.User.ID, err)
	}
	_, err = h.svc.ReviewEmergency(ctx, id, who, o, note)
	return h.replyRefusal(ctx, responseURL, channel, cb.User.ID, err)
}

// runSignOff records an access review sign-off; bot refuses (and audits)
// anyone not in the access reviewers teams.
func (h *Handler) runSignOff(ctx context.Context, cb *slackapi.InteractionCallback, responseURL, channel, id string, o bot.AccessReviewOutcome, note string) error {
	who, err := h.svc.IdentityFor(ctx, slackAccount(cb.Team.ID, cb.User.ID))
	if err != nil {
		return h.replyRefusal(ctx, responseURL, channel, cb.User.ID, err)
	}
	ar, err := h.accessReviews(ctx)
	if ar == nil {
		h.reply(ctx, responseURL, channel, cb.User.ID, ":no_entry: "+esc(err.Error()))
		return nil
	}
	_, err = ar.SignOff(ctx, id, who, o, note)
	return h.replyRefusal(ctx, responseURL, channel, cb.User.ID, err)
}

// accessReviews returns the access review controls, or nil and what to
// tell the user.
func (h *Handler) accessReviews(ctx context.Context) (*bot.AccessReviews, error) {
	if h.access == nil {
		return nil, fmt.Errorf("access reviews are not configured on this Tollgate (github.org and teams.access_reviewers)")
	}
	ar, err := h.access()
	if err != nil {
		h.log.ErrorContext(ctx, "access reviews unavailable", slog.Any("err", err))
		return nil, fmt.Errorf("access reviews are unavailable: %w", err)
	}
	return ar, nil
}

// isAccessReviewCommand reports whether text is `/deploy access-review …`.
func isAccessReviewCommand(text string) bool {
	f := strings.Fields(text)
	return len(f) > 0 && strings.EqualFold(f[0], accessReviewCommand)
}

// answerAccessReview acknowledges /deploy access-review: a linked user's
// command is persisted (resolving teams calls GitHub), the rest answered.
func (h *Handler) answerAccessReview(ctx context.Context, sc slackapi.SlashCommand, body []byte) (string, error) {
	if len(strings.Fields(sc.Text)) != 1 {
		return "usage: " + accessReviewUsage, nil
	}
	if h.access == nil {
		return "Access reviews are not configured on this Tollgate (github.org and teams.access_reviewers).", nil
	}
	_, err := h.svc.IdentityFor(ctx, slackAccount(sc.TeamID, sc.UserID))
	if ref, ok := bot.AsRefusal(err); ok {
		return esc(ref.Reason), nil
	}
	if err != nil {
		return "", err
	}
	if err := h.enqueue(ctx, eventCommand, body); err != nil {
		return "", err
	}
	return "Working on `/deploy access-review` … (resolving team members on GitHub)", nil
}

// runAccessReview records the snapshot and tells the user what it found;
// bot asks the access reviewers to sign it off.
func (h *Handler) runAccessReview(ctx context.Context, sc slackapi.SlashCommand) error {
	who, err := h.svc.IdentityFor(ctx, slackAccount(sc.TeamID, sc.UserID))
	if err != nil {
		return h.replyRefusal(ctx, sc.ResponseURL, sc.ChannelID, sc.UserID, err)
	}
	ar, err := h.accessReviews(ctx)
	if ar == nil {
		h.reply(ctx, sc.ResponseURL, sc.ChannelID, sc.UserID, ":no_entry: "+esc(err.Error()))
		return nil
	}
	r, err := ar.Snapshot(ctx, who.Login)
	if err != nil {
		return fmt.Errorf("/deploy access-review by %s: %w", who.Login, err) // GitHub failed: retried
	}
	changes := "the first review: every grant is new"
	if r.PreviousID != "" {
		changes = fmt.Sprintf("%d added and %d removed since %s", len(r.Added), len(r.Removed), r.PreviousID)
	}
	h.reply(ctx, sc.ResponseURL, sc.ChannelID, sc.UserID, fmt.Sprintf(
		"Access review %s recorded: %d grants, %s. The access reviewers were asked to sign it off.", r.ID, len(r.Grants), changes))
	return nil
}
