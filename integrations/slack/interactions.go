package slack

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/reqlog"
)

// Action and callback ids of Tollgate's Slack components.
const (
	ActionApprove    = "tollgate_approve"
	ActionReject     = "tollgate_reject"
	CallbackReject   = "tollgate_reject_reason"
	blockReason      = "reason"
	actionReasonText = "reason_text"
)

// viewsOpenTimeout bounds views.open on the acknowledgement path: Slack's
// trigger_id is only valid for 3 seconds anyway.
const viewsOpenTimeout = 2 * time.Second

// ServeInteractions answers POST /slack/interactions: button clicks and
// modal submissions. Approve clicks and reject submissions are persisted
// and acknowledged at once, then carried out by HandleInboxItem; a Reject
// click opens the reason modal right away (Slack's trigger_id lives 3 s).
func (h *Handler) ServeInteractions(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readVerified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form body", http.StatusBadRequest)
		return
	}
	var cb slackapi.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		http.Error(w, "malformed interaction payload", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	reqlog.AddAttrs(ctx, slog.String("slack_team", cb.Team.ID), slog.String("slack_user", cb.User.ID),
		slog.String("interaction", string(cb.Type)), slog.String("action_id", clipForLog(firstAction(&cb).ActionID)))
	if h.serveComplianceInteraction(ctx, w, &cb, body) || h.serveMFAInteraction(ctx, w, &cb) {
		return
	}
	switch {
	case cb.Type == slackapi.InteractionTypeBlockActions && firstAction(&cb).ActionID == ActionApprove:
		if err := h.enqueue(ctx, eventBlockActions, body); err != nil {
			h.log.ErrorContext(ctx, "persisting an approve click", slog.Any("err", err))
			http.Error(w, "could not record the click", http.StatusInternalServerError)
			return
		}
	case cb.Type == slackapi.InteractionTypeBlockActions && firstAction(&cb).ActionID == ActionReject:
		h.openRejectModal(ctx, &cb)
	case cb.Type == slackapi.InteractionTypeViewSubmission && cb.View.CallbackID == CallbackReject:
		if strings.TrimSpace(rejectReason(&cb)) == "" {
			writeJSON(w, slackapi.NewErrorsViewSubmissionResponse(map[string]string{blockReason: "Say why you reject this deploy."}))
			return
		}
		if err := h.enqueue(ctx, eventViewSubmission, body); err != nil {
			h.log.ErrorContext(ctx, "persisting a reject submission", slog.Any("err", err))
			writeJSON(w, slackapi.NewErrorsViewSubmissionResponse(map[string]string{blockReason: "Tollgate could not record this; try again."}))
			return
		}
	}
	w.WriteHeader(http.StatusOK)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// firstAction returns the clicked action (Slack sends one per click).
func firstAction(cb *slackapi.InteractionCallback) *slackapi.BlockAction {
	if len(cb.ActionCallback.BlockActions) == 0 {
		return &slackapi.BlockAction{}
	}
	return cb.ActionCallback.BlockActions[0]
}

// buttonValue is what approval buttons carry: the request id and the
// request's server-side nonce.
func buttonValue(r bot.Request) string { return r.ID + ":" + r.ApprovalNonce }

func parseButtonValue(v string) (id, nonce string) {
	id, nonce, _ = strings.Cut(v, ":")
	return id, nonce
}

// runApproveClick counts an approval from a button click, or tells the
// clicker why not (bot audits the refusal).
func (h *Handler) runApproveClick(ctx context.Context, cb *slackapi.InteractionCallback) error {
	id, nonce := parseButtonValue(firstAction(cb).Value)
	channel := cb.Channel.ID
	if channel == "" {
		channel = cb.Container.ChannelID
	}
	who, err := h.svc.IdentityFor(ctx, slackAccount(cb.Team.ID, cb.User.ID))
	if err != nil {
		return h.replyRefusal(ctx, cb.ResponseURL, channel, cb.User.ID, err)
	}
	_, err = h.svc.Approve(ctx, bot.ApproveInput{RequestID: id, Approver: who, Nonce: nonce, RequireNonce: true})
	return h.replyRefusal(ctx, cb.ResponseURL, channel, cb.User.ID, err)
}

// rejectMetadata travels in the modal's private_metadata.
type rejectMetadata struct {
	RequestID string `json:"request_id"`
	Channel   string `json:"channel"`
}

// openRejectModal asks for a reason, after checking the clicker is linked
// and the button is current; a refusal is replied to after acknowledging.
func (h *Handler) openRejectModal(ctx context.Context, cb *slackapi.InteractionCallback) {
	id, nonce := parseButtonValue(firstAction(cb).Value)
	channel := cb.Channel.ID
	refuse := func(text string) {
		h.background(func(ctx context.Context) { h.reply(ctx, cb.ResponseURL, channel, cb.User.ID, ":no_entry: "+esc(text)) })
	}
	if _, err := h.svc.IdentityFor(ctx, slackAccount(cb.Team.ID, cb.User.ID)); err != nil {
		if ref, ok := bot.AsRefusal(err); ok {
			refuse(ref.Reason)
			return
		}
		h.log.ErrorContext(ctx, "reject click: identifying the clicker", slog.Any("err", err))
		return
	}
	r, err := h.svc.Request(ctx, id)
	if err != nil || subtle.ConstantTimeCompare([]byte(nonce), []byte(r.ApprovalNonce)) != 1 {
		refuse(fmt.Sprintf("this button is not valid for request %s", id))
		return
	}
	if r.State != bot.StateAwaitingApproval {
		refuse(fmt.Sprintf("request %s is %s, not awaiting approval", r.ID, strings.ReplaceAll(string(r.State), "_", " ")))
		return
	}
	meta, _ := json.Marshal(rejectMetadata{RequestID: r.ID, Channel: channel}) // two strings: cannot fail
	vctx, cancel := context.WithTimeout(ctx, viewsOpenTimeout)
	defer cancel()
	if _, err := h.api.OpenViewContext(vctx, cb.TriggerID, rejectModal(r, string(meta))); err != nil {
		h.log.ErrorContext(ctx, "opening the reject modal", slog.String("request", r.ID), slog.Any("err", err))
		refuse("Slack could not open the reject dialog; click Reject again.")
	}
}

// rejectModal asks why a deploy is rejected.
func rejectModal(r bot.Request, meta string) slackapi.ModalViewRequest {
	input := slackapi.NewPlainTextInputBlockElement(plain("Why should this not be deployed?"), actionReasonText)
	input.Multiline = true
	return slackapi.ModalViewRequest{
		Type:            slackapi.VTModal,
		CallbackID:      CallbackReject,
		PrivateMetadata: meta,
		Title:           plain("Reject deploy"),
		Submit:          plain("Reject"),
		Close:           plain("Cancel"),
		Blocks: slackapi.Blocks{BlockSet: []slackapi.Block{
			slackapi.NewSectionBlock(mrkdwn(fmt.Sprintf("Reject request %s: %s `%s` to *%s*?",
				r.ID, esc(r.Repo), short(r.SHA), esc(r.Environment))), nil, nil),
			slackapi.NewInputBlock(blockReason, plain("Reason"), nil, input),
		}},
	}
}

func rejectReason(cb *slackapi.InteractionCallback) string {
	if cb.View.State == nil {
		return ""
	}
	return cb.View.State.Values[blockReason][actionReasonText].Value
}

// runRejectSubmission rejects a request with the reason given in the modal.
func (h *Handler) runRejectSubmission(ctx context.Context, cb *slackapi.InteractionCallback) error {
	var meta rejectMetadata
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.RequestID == "" {
		return fmt.Errorf("reject submission by %s: bad private metadata: %w", cb.User.ID, err)
	}
	who, err := h.svc.IdentityFor(ctx, slackAccount(cb.Team.ID, cb.User.ID))
	if err != nil {
		return h.replyRefusal(ctx, "", meta.Channel, cb.User.ID, err)
	}
	_, err = h.svc.Reject(ctx, meta.RequestID, who, rejectReason(cb))
	return h.replyRefusal(ctx, "", meta.Channel, cb.User.ID, err)
}
