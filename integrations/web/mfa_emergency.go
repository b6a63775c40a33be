package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/mfastate"
)

// The emergency path with emergency.require_webauthn: the requester
// confirms the change on a page (the one-time link /deploy emergency
// answers with), and the after-the-fact reviewer gives the verdict on a
// page (the review message's button), each with a security key over
// exactly what is decided.

// emergencyAsk is the change a chat user asked for.
type emergencyAsk = mfastate.EmergencyAsk

// maxNote bounds a review's note.
const maxNote = 2000

// mfaEmergencyPage is GET /mfa/emergency?t=…: it uses the one-time link,
// checks the signed-in account is the requester's, resolves what the ref
// points to now and asks for the key over it.
func (h *Handler) mfaEmergencyPage(w http.ResponseWriter, r *http.Request) {
	ctx, viewer := r.Context(), viewerFrom(r.Context())
	st, err := h.mfa.cfg.States.ConsumeMFAState(ctx, mfastate.KindEmergencyLink, r.URL.Query().Get("t"), h.now().UTC())
	var reason string
	var ask emergencyAsk
	switch {
	case errors.Is(err, mfastate.ErrUsed), errors.Is(err, mfastate.ErrExpired), errors.Is(err, mfastate.ErrUnknown):
		reason = "this link is expired, used or not valid; ask for the emergency change again in Slack"
	case err != nil:
		h.internalError(w, r, "check this link", err)
		return
	case json.Unmarshal(st.Data, &ask) != nil:
		reason = "this link does not name an emergency change"
	}
	var who bot.Identity
	if reason == "" {
		who, err = h.mfa.cfg.Service.IdentityFor(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: st.Workspace, User: st.User})
		switch ref, ok := bot.AsRefusal(err); {
		case ok:
			reason = ref.Reason
		case err != nil:
			h.internalError(w, r, "read whom this link is for", err)
			return
		case who.GitHubID != viewer.GitHubID:
			reason = fmt.Sprintf("this link was made for the Slack user linked to GitHub user %s, and you are signed in as %s",
				who.Login, viewer.Login)
		}
	}
	if reason != "" {
		h.refuseEmergencyPage(w, r, bot.MFAEmergencyDeploy, ask.SourceKey, reason)
		return
	}
	sha, hash, err := h.mfa.cfg.Service.ResolveEmergency(ctx, bot.NewRequest{Repo: ask.Repo, Environment: ask.Environment, Ref: ask.Ref})
	if ref, ok := bot.AsRefusal(err); ok {
		h.message(w, r, http.StatusConflict, "Cannot deploy", ref.Reason+".")
		return
	}
	if err != nil {
		h.internalError(w, r, "resolve "+ask.Ref, err)
		return
	}
	creds, err := h.mfa.cfg.Service.MFACredentials(ctx, viewer.GitHubID)
	if err != nil {
		h.internalError(w, r, "read your security keys", err)
		return
	}
	if len(creds) == 0 {
		h.message(w, r, http.StatusForbidden, "No security key",
			"Emergency changes here need a security key, and you have none: run /deploy mfa register in Slack.")
		return
	}
	ask.Ref = strings.TrimSpace(ask.Ref)
	v := &mfaView{Login: viewer.Login, Credentials: creds, Ask: &ask, SHA: sha, ConfigHash: hash, Button: "Deploy with my security key"}
	v.JSON, v.Expires, err = h.beginAssertion(r, viewer, creds, ask.SourceKey, PathMFAEmergency+"/finish",
		bot.EmergencyChallenge(ask.SourceKey, sha, hash, ask.Reason), ceremony{Ask: &ask, ChatUser: who.ChatUser})
	if err != nil {
		h.internalError(w, r, "start the security key challenge", err)
		return
	}
	h.render(w, r, http.StatusOK, "mfa_emergency", pageData{Title: "Emergency change", MFA: v})
}

// refuseEmergencyPage audits a refused page of the emergency path.
func (h *Handler) refuseEmergencyPage(w http.ResponseWriter, r *http.Request, purpose bot.MFAPurpose, subject, reason string) {
	viewer := viewerFrom(r.Context())
	if subject == "" {
		subject = viewer.Login
	}
	err := h.mfa.cfg.Service.RefuseMFA(r.Context(), identityOf(viewer), purpose, subject, reason)
	if _, ok := bot.AsRefusal(err); !ok {
		h.internalError(w, r, "record this attempt", err)
		return
	}
	h.message(w, r, http.StatusForbidden, "Refused", "Refused: "+reason+".")
}

// mfaEmergencyFinish is POST /mfa/emergency/finish: verify the assertion,
// then submit the change at the commit the requester confirmed.
func (h *Handler) mfaEmergencyFinish(w http.ResponseWriter, r *http.Request) {
	ctx, viewer := r.Context(), viewerFrom(r.Context())
	body, c, err := h.readFinish(w, r, bot.MFAEmergencyDeploy, "")
	if err != nil {
		return
	}
	if c.Ask == nil || c.Challenge == nil {
		writeOutcome(w, http.StatusBadRequest, false, "This challenge does not name an emergency change.", "")
		return
	}
	proof, ok := h.assertion(w, r, bot.MFAEmergencyDeploy, c.Ask.SourceKey, body, c)
	if !ok {
		return
	}
	who := identityOf(viewer)
	who.ChatUser = c.ChatUser
	out, err := h.mfa.cfg.Service.Submit(ctx, bot.NewRequest{SourceKey: c.Ask.SourceKey, Repo: c.Ask.Repo,
		Environment: c.Ask.Environment, Ref: c.Ask.Ref, SHA: c.Challenge.SHA, Trigger: bot.TriggerEmergency,
		Requester: who, Reason: c.Ask.Reason, MFA: proof})
	msg, next := "", ""
	if err == nil {
		msg, next = fmt.Sprintf("Emergency change %s is %s.", out.Request.ID, out.Request.State), reqpathOf(out.Request.ID)
	}
	h.decided(w, r, "submit the emergency change", err, msg, next)
}

// mfaReview reads the pending review of the emergency change a review
// link names, and the policy hash its verdict is bound to; it answers
// the page itself when it returns false.
func (h *Handler) mfaReview(w http.ResponseWriter, r *http.Request) (bot.EmergencyReview, string, bool) {
	req, ok := h.mfaRequest(w, r, bot.MFAEmergencyReview)
	if !ok {
		return bot.EmergencyReview{}, "", false
	}
	pending, err := h.mfa.cfg.Service.EmergencyReviews(r.Context(), true)
	if err != nil {
		h.internalError(w, r, "read the pending reviews", err)
		return bot.EmergencyReview{}, "", false
	}
	for _, rev := range pending {
		if rev.RequestID != req.ID {
			continue
		}
		hash, needed := h.mfa.cfg.Service.EmergencyNeedsMFA(rev.Repo, rev.Environment)
		if !needed {
			h.message(w, r, http.StatusConflict, "No security key needed",
				"Reviews of emergency changes to "+rev.Environment+" do not need a security key now; review in Slack.")
			return bot.EmergencyReview{}, "", false
		}
		return rev, hash, true
	}
	h.message(w, r, http.StatusConflict, "Nothing to review", req.ID+" is not an emergency change awaiting review.")
	return bot.EmergencyReview{}, "", false
}

// mfaReviewForm is GET /mfa/review/{id}?t=…: the change and a form for
// the verdict, which the key's challenge will cover.
func (h *Handler) mfaReviewForm(w http.ResponseWriter, r *http.Request) {
	rev, hash, ok := h.mfaReview(w, r)
	if !ok {
		return
	}
	v := &mfaView{Login: viewerFrom(r.Context()).Login, Review: &rev, ConfigHash: hash,
		Action: PathMFAReview + rev.RequestID + "?t=" + r.URL.Query().Get("t")}
	h.render(w, r, http.StatusOK, "mfa_review", pageData{Title: "Review " + rev.RequestID, MFA: v})
}

// mfaReviewPage is POST /mfa/review/{id}?t=… with the verdict: it starts
// a ceremony over the change, the verdict and the note.
func (h *Handler) mfaReviewPage(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && o != h.public.Scheme+"://"+h.public.Host {
		h.message(w, r, http.StatusForbidden, "Refused", "Review from Tollgate's own page.")
		return
	}
	rev, hash, ok := h.mfaReview(w, r)
	if !ok {
		return
	}
	viewer := viewerFrom(r.Context())
	outcome, note := bot.ReviewOutcome(r.PostFormValue("outcome")), strings.TrimSpace(r.PostFormValue("note"))
	if !outcome.Valid() || (outcome == bot.ReviewNotAcceptable && note == "") || len(note) > maxNote {
		h.message(w, r, http.StatusBadRequest, "Say what you found",
			"Choose acceptable or not acceptable; a not-acceptable verdict needs a note (up to 2000 characters). Go back and try again.")
		return
	}
	creds, err := h.mfa.cfg.Service.MFACredentials(r.Context(), viewer.GitHubID)
	if err != nil || len(creds) == 0 {
		if err != nil {
			h.internalError(w, r, "read your security keys", err)
			return
		}
		h.message(w, r, http.StatusForbidden, "No security key",
			"Reviews here need a security key, and you have none: run /deploy mfa register in Slack.")
		return
	}
	v := &mfaView{Login: viewer.Login, Credentials: creds, Review: &rev, ConfigHash: hash, Outcome: outcome, Note: note,
		Button: "Record my verdict with my security key"}
	v.JSON, v.Expires, err = h.beginAssertion(r, viewer, creds, rev.RequestID, PathMFAReview+rev.RequestID+"/finish",
		bot.EmergencyReviewChallenge(rev, hash, outcome, note), ceremony{Outcome: outcome, Note: note})
	if err != nil {
		h.internalError(w, r, "start the security key challenge", err)
		return
	}
	h.render(w, r, http.StatusOK, "mfa_review", pageData{Title: "Review " + rev.RequestID, MFA: v})
}

// mfaReviewFinish is POST /mfa/review/{id}/finish.
func (h *Handler) mfaReviewFinish(w http.ResponseWriter, r *http.Request) {
	ctx, viewer, id := r.Context(), viewerFrom(r.Context()), r.PathValue("id")
	body, c, err := h.readFinish(w, r, bot.MFAEmergencyReview, id)
	if err != nil {
		return
	}
	proof, ok := h.assertion(w, r, bot.MFAEmergencyReview, id, body, c)
	if !ok {
		return
	}
	_, err = h.mfa.cfg.Service.ReviewEmergencyWithMFA(ctx, id, identityOf(viewer), c.Outcome, c.Note, proof)
	h.decided(w, r, "record the review", err, fmt.Sprintf("Your verdict on %s is recorded: %s.", id, c.Outcome), reqpathOf(id))
}
