package web

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/tollgate-dev/tollgate/bot"
)

// mfaView is what the security key pages render.
type mfaView struct {
	Login       string
	Credentials []bot.MFACredential
	Expires     time.Time // the ceremony's
	Button      string
	JSON        string // the page script's data: ceremony key, options, where to post
	Name        string // registration: a suggested name

	R          *bot.Request         // approvals
	Approvals  int                  // valid so far
	Review     *bot.EmergencyReview // reviews
	Outcome    bot.ReviewOutcome
	Note       string
	Action     string // the review form's URL
	Ask        *emergencyAsk
	SHA        string // emergency: the commit the ref points to now
	ConfigHash string
}

// scriptData is what mfa.js reads from the page.
type scriptData struct {
	Kind     string `json:"kind"` // "create" or "get"
	Ceremony string `json:"ceremony"`
	Finish   string `json:"finish"`
	Options  any    `json:"options"`
}

func (d scriptData) encode() string {
	b, _ := json.Marshal(d) // go-webauthn's options and strings: cannot fail
	return string(b)
}

// newNonce is the server nonce of a challenge.
func newNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// beginAssertion starts a ceremony asking viewer's keys to sign ch (with
// a fresh nonce and expiry) and returns the page script's data.
func (h *Handler) beginAssertion(r *http.Request, viewer Viewer, creds []bot.MFACredential, subject, finish string,
	ch bot.MFAChallenge, c ceremony) (string, time.Time, error) {
	now := h.now().UTC()
	ch.Nonce, ch.ExpiresAt = newNonce(), now.Add(h.mfa.cfg.CeremonyTTL)
	options, session, err := h.mfa.rp.BeginLogin(userOf(viewer, creds), webauthn.WithChallenge(ch.Digest()),
		webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return "", time.Time{}, err
	}
	c.Purpose, c.Session, c.Challenge = ch.Purpose, *session, &ch
	key, err := h.startCeremony(r.Context(), viewer, subject, c)
	if err != nil {
		return "", time.Time{}, err
	}
	return scriptData{Kind: "get", Ceremony: key, Finish: finish, Options: options}.encode(), ch.ExpiresAt, nil
}

// assertion verifies the posted assertion (verifyAssertion) and returns
// the proof bot records; when it does not hold, or cannot be checked, it
// answers (a refusal audited through bot) and returns false.
func (h *Handler) assertion(w http.ResponseWriter, r *http.Request, purpose bot.MFAPurpose, subject string,
	body finishBody, c ceremony) (*bot.MFAProof, bool) {
	proof, reason, err := h.verifyAssertion(r, viewerFrom(r.Context()), body, c)
	if err != nil {
		h.decided(w, r, "check the security key", err, "", "")
		return nil, false
	}
	if reason != "" {
		h.refuseMFA(w, r, purpose, subject, reason)
		return nil, false
	}
	return proof, true
}

// verifyAssertion checks the posted assertion against the ceremony and
// the viewer's registered keys (go-webauthn: challenge, origin, RP ID,
// user presence and verification, signature, counter) and returns the
// proof bot records, or the reason it does not hold.
func (h *Handler) verifyAssertion(r *http.Request, viewer Viewer, body finishBody, c ceremony) (*bot.MFAProof, string, error) {
	creds, err := h.mfa.cfg.Service.MFACredentials(r.Context(), viewer.GitHubID)
	if err != nil {
		return nil, "", err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body.Credential)
	if err != nil {
		return nil, describeWebAuthn(err), nil
	}
	cred, err := h.mfa.rp.ValidateLogin(userOf(viewer, creds), c.Session, parsed)
	if err != nil {
		return nil, describeWebAuthn(err), nil
	}
	if cred.Authenticator.CloneWarning {
		return nil, "the security key's signature counter went back: it may be cloned; ask an admin to revoke it", nil
	}
	name := ""
	for _, k := range creds {
		if string(k.ID) == string(cred.ID) {
			name = k.Name
		}
	}
	raw := parsed.Raw.AssertionResponse
	return &bot.MFAProof{Challenge: *c.Challenge, GitHubID: viewer.GitHubID, CredentialID: cred.ID, CredentialName: name,
		PublicKey: cred.PublicKey, AuthenticatorData: raw.AuthenticatorData, ClientDataJSON: raw.ClientDataJSON,
		Signature: raw.Signature, UserHandle: raw.UserHandle, RPID: h.mfa.rp.Config.RPID,
		Origin: parsed.Response.CollectedClientData.Origin, SignCount: parsed.Response.AuthenticatorData.Counter}, "", nil
}

// mfaApprovePage is GET /mfa/approve/{id}?t=…: the Approve button's
// page. It shows exactly what is approved and starts a ceremony over it.
func (h *Handler) mfaApprovePage(w http.ResponseWriter, r *http.Request) {
	ctx, viewer := r.Context(), viewerFrom(r.Context())
	r2, ok := h.mfaRequest(w, r, bot.MFAApprove)
	if !ok {
		return
	}
	if !h.mfa.cfg.Service.ApprovalNeedsMFA(r2) {
		h.message(w, r, http.StatusConflict, "No security key needed",
			"Approvals of "+r2.Environment+" do not need a security key now; approve with the button in Slack.")
		return
	}
	creds, err := h.mfa.cfg.Service.MFACredentials(ctx, viewer.GitHubID)
	if err != nil {
		h.internalError(w, r, "read your security keys", err)
		return
	}
	v := &mfaView{Login: viewer.Login, Credentials: creds, R: &r2, Approvals: len(r2.ValidApprovals(h.now())),
		Button: "Approve with my security key"}
	if len(creds) > 0 {
		v.JSON, v.Expires, err = h.beginAssertion(r, viewer, creds, r2.ID, PathMFAApprove+r2.ID+"/finish",
			bot.ApprovalChallenge(r2), ceremony{})
		if err != nil {
			h.internalError(w, r, "start the security key challenge", err)
			return
		}
	}
	h.render(w, r, http.StatusOK, "mfa_approve", pageData{Title: "Approve " + r2.Repo + " → " + r2.Environment, MFA: v})
}

// mfaRequest reads the request a Slack button's link names and checks
// the link's token; it answers the page itself when it returns false.
func (h *Handler) mfaRequest(w http.ResponseWriter, r *http.Request, purpose bot.MFAPurpose) (bot.Request, bool) {
	id := r.PathValue("id")
	req, err := h.cfg.Requests.Request(r.Context(), id)
	if !validRequestID.MatchString(id) || errors.Is(err, bot.ErrNotFound) ||
		(err == nil && !req.MFALinkTokenValid(purpose, r.URL.Query().Get("t"))) {
		h.message(w, r, http.StatusNotFound, "Link not valid",
			"This link is not one Tollgate made for request "+id+". Open it from the request's message in Slack.")
		return bot.Request{}, false
	}
	if err != nil {
		h.internalError(w, r, "read request "+id, err)
		return bot.Request{}, false
	}
	if purpose == bot.MFAApprove && req.State != bot.StateAwaitingApproval {
		h.render(w, r, http.StatusConflict, "message", pageData{Title: "Not awaiting approval",
			Message: "Request " + req.ID + " is " + string(req.State) + "; there is nothing to approve.",
			Link:    reqpathOf(req.ID), LinkText: "The request"})
		return bot.Request{}, false
	}
	return req, true
}

func reqpathOf(id string) string { return PathDeployments + id }

// mfaApproveFinish is POST /mfa/approve/{id}/finish: the page's script
// posts the assertion; it is verified against the ceremony and the
// viewer's keys, then bot decides (separation of duties, teams, binding).
func (h *Handler) mfaApproveFinish(w http.ResponseWriter, r *http.Request) {
	ctx, viewer, id := r.Context(), viewerFrom(r.Context()), r.PathValue("id")
	body, c, err := h.readFinish(w, r, bot.MFAApprove, id)
	if err != nil {
		return
	}
	proof, ok := h.assertion(w, r, bot.MFAApprove, id, body, c)
	if !ok {
		return
	}
	updated, err := h.mfa.cfg.Service.Approve(ctx, bot.ApproveInput{RequestID: id, Approver: identityOf(viewer), MFA: proof})
	msg := "Approved with security key " + proof.CredentialName + "."
	if err == nil && updated.State == bot.StateQueued {
		msg += " Every approval needed is in: the deploy is queued."
	}
	if err == nil {
		h.log.InfoContext(ctx, "approved with a security key", "request", id, "login", viewer.Login, "key", proof.CredentialName)
	}
	h.decided(w, r, "record the approval", err, msg, reqpathOf(id))
}
