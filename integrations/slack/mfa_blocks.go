package slack

import (
	"context"
	"net/http"
	"net/url"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
)

// Action ids of the buttons that open a security key page. Slack opens
// the button's URL in the browser and also posts the click here: the
// click alone decides nothing.
const (
	ActionApproveWebAuthn = "tollgate_approve_webauthn"
	ActionReviewWebAuthn  = "tollgate_review_webauthn"
)

// needsKey reports whether r's policy decision says an action on it needs
// a security key: check is bot.CheckApprovalMFA (its approvals) or
// bot.CheckEmergencyMFA (its after-the-fact review).
func needsKey(r bot.Request, check string) bool {
	if r.Decision == nil {
		return false
	}
	c, ok := r.Decision.Check(check)
	return ok && c.Outcome == bot.OutcomePass
}

// mfaLink is the page a button opens for r: path + id, with r's link token.
func mfaLink(l links, path string, r bot.Request, purpose bot.MFAPurpose) string {
	return l.public + path + r.ID + "?t=" + url.QueryEscape(r.MFALinkToken(purpose))
}

// approveWithKeyButton opens Tollgate's approval page, which shows what is
// approved and asks for the approver's security key.
func approveWithKeyButton(r bot.Request, l links) *slackapi.ButtonBlockElement {
	b := slackapi.NewButtonBlockElement(ActionApproveWebAuthn, r.ID, plain("Approve (security key)"))
	b.URL, b.Style = mfaLink(l, pathMFAApprove, r, bot.MFAApprove), slackapi.StylePrimary
	return b
}

// reviewWithKeyButton opens the review page of an emergency change whose
// environment needs the reviewer's security key.
func reviewWithKeyButton(r bot.Request, l links) slackapi.Block {
	b := slackapi.NewButtonBlockElement(ActionReviewWebAuthn, r.ID, plain("Review (security key)"))
	b.URL, b.Style = mfaLink(l, pathMFAReview, r, bot.MFAEmergencyReview), slackapi.StylePrimary
	return slackapi.NewActionBlock(blockReviewActions, b)
}

// serveMFAInteraction acknowledges a click on a button that opened a
// security key page. It records nothing: the page does, once the key has
// signed. It reports whether cb was such a click.
func (h *Handler) serveMFAInteraction(ctx context.Context, w http.ResponseWriter, cb *slackapi.InteractionCallback) bool {
	if cb.Type != slackapi.InteractionTypeBlockActions {
		return false
	}
	switch firstAction(cb).ActionID {
	case ActionApproveWebAuthn, ActionReviewWebAuthn:
	default:
		return false
	}
	h.log.InfoContext(ctx, "security key page opened from Slack", "action", firstAction(cb).ActionID,
		"request", clipForLog(firstAction(cb).Value))
	channel := clickChannel(cb)
	h.background(func(ctx context.Context) {
		h.reply(ctx, cb.ResponseURL, channel, cb.User.ID, ":closed_lock_with_key: This needs your security key: finish on "+
			"the Tollgate page the button opened. The click in Slack alone records nothing.")
	})
	w.WriteHeader(http.StatusOK)
	return true
}
