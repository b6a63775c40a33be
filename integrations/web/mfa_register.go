package web

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/mfastate"
)

// validKeyName is what bot accepts as a key's name (checked here too, so
// a typo does not use up the ceremony).
var validKeyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$`)

// mfaRegisterPage is GET /mfa/register?t=…: the one-time link of
// /deploy mfa register. It is used once, by the GitHub account linked to
// the Slack user it was made for, and starts a registration ceremony.
func (h *Handler) mfaRegisterPage(w http.ResponseWriter, r *http.Request) {
	ctx, viewer := r.Context(), viewerFrom(r.Context())
	st, err := h.mfa.cfg.States.ConsumeMFAState(ctx, mfastate.KindRegisterLink, r.URL.Query().Get("t"), h.now().UTC())
	var reason string
	switch {
	case errors.Is(err, mfastate.ErrUsed):
		reason = "this link was already used; run /deploy mfa register again"
	case errors.Is(err, mfastate.ErrExpired):
		reason = "this link expired; run /deploy mfa register again"
	case errors.Is(err, mfastate.ErrUnknown):
		reason = "this link is not valid; run /deploy mfa register again"
	case err != nil:
		h.internalError(w, r, "check this link", err)
		return
	}
	var owner bot.Identity
	if reason == "" {
		owner, err = h.mfa.cfg.Service.IdentityFor(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: st.Workspace, User: st.User})
		if ref, ok := bot.AsRefusal(err); ok {
			reason = ref.Reason
		} else if err != nil {
			h.internalError(w, r, "read whom this link is for", err)
			return
		}
	}
	if reason == "" && owner.GitHubID != viewer.GitHubID {
		reason = fmt.Sprintf("this link was made for the Slack user linked to GitHub user %s, and you are signed in as %s",
			owner.Login, viewer.Login)
	}
	if reason != "" {
		h.refuseRegisterPage(w, r, reason)
		return
	}
	creds, err := h.mfa.cfg.Service.MFACredentials(ctx, viewer.GitHubID)
	if err != nil {
		h.internalError(w, r, "read your security keys", err)
		return
	}
	var exclude []protocol.CredentialDescriptor
	for _, c := range userOf(viewer, creds).creds {
		exclude = append(exclude, c.Descriptor())
	}
	options, session, err := h.mfa.rp.BeginRegistration(userOf(viewer, creds), webauthn.WithExclusions(exclude))
	if err != nil {
		h.internalError(w, r, "start the registration", err)
		return
	}
	key, err := h.startCeremony(ctx, viewer, viewer.Login, ceremony{Purpose: mfaPurposeRegister, Session: *session, ChatUser: owner.ChatUser})
	if err != nil {
		h.internalError(w, r, "start the registration", err)
		return
	}
	v := &mfaView{Login: viewer.Login, Credentials: creds, Expires: h.now().UTC().Add(h.mfa.cfg.CeremonyTTL),
		Button: "Register my security key", Name: suggestName(creds),
		JSON: scriptData{Kind: "create", Ceremony: key, Finish: PathMFARegister + "/finish", Options: options}.encode()}
	h.render(w, r, http.StatusOK, "mfa_register", pageData{Title: "Register a security key", MFA: v})
}

// refuseRegisterPage audits a refused registration link and shows why.
func (h *Handler) refuseRegisterPage(w http.ResponseWriter, r *http.Request, reason string) {
	viewer := viewerFrom(r.Context())
	err := h.mfa.cfg.Service.RefuseMFA(r.Context(), identityOf(viewer), mfaPurposeRegister, viewer.Login, reason)
	if _, ok := bot.AsRefusal(err); !ok {
		h.internalError(w, r, "record this attempt", err)
		return
	}
	h.message(w, r, http.StatusForbidden, "Refused", "Refused: "+reason+".")
}

// suggestName proposes a name the person has not used.
func suggestName(have []bot.MFACredential) string {
	for i := 1; ; i++ {
		name := "key-" + fmt.Sprint(i)
		if !slices.ContainsFunc(have, func(c bot.MFACredential) bool { return c.Name == name }) {
			return name
		}
	}
}

// mfaRegisterFinish is POST /mfa/register/finish: it verifies the
// attestation against the ceremony (user verification required), checks
// the authenticator model against the allow-list, and asks bot to store
// the credential (audited).
func (h *Handler) mfaRegisterFinish(w http.ResponseWriter, r *http.Request) {
	ctx, viewer := r.Context(), viewerFrom(r.Context())
	body, c, err := h.readFinish(w, r, mfaPurposeRegister, viewer.Login)
	if err != nil {
		return
	}
	if !validKeyName.MatchString(body.Name) {
		writeOutcome(w, http.StatusBadRequest, false,
			"Name the key with 1 to 40 letters, digits, '.', '_' or '-'; reload the page to try again.", "")
		return
	}
	creds, err := h.mfa.cfg.Service.MFACredentials(ctx, viewer.GitHubID)
	if err != nil {
		h.decided(w, r, "read your security keys", err, "", "")
		return
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body.Credential)
	var cred *webauthn.Credential
	if err == nil {
		cred, err = h.mfa.rp.CreateCredential(userOf(viewer, creds), c.Session, parsed)
	}
	if err != nil {
		h.refuseMFA(w, r, mfaPurposeRegister, viewer.Login, describeWebAuthn(err))
		return
	}
	if reason := h.modelRefused(cred.Authenticator.AAGUID); reason != "" {
		h.refuseMFA(w, r, mfaPurposeRegister, viewer.Login, reason)
		return
	}
	var transports []string
	for _, t := range cred.Transport {
		transports = append(transports, string(t))
	}
	who := identityOf(viewer)
	who.ChatUser = c.ChatUser
	err = h.mfa.cfg.Service.RegisterMFACredential(ctx, who, bot.MFACredential{Name: body.Name, ID: cred.ID,
		PublicKey: cred.PublicKey, AAGUID: cred.Authenticator.AAGUID, SignCount: cred.Authenticator.SignCount,
		BackupEligible: cred.Flags.BackupEligible, BackupState: cred.Flags.BackupState, Transports: transports,
		AttestationFormat: cred.AttestationFormat})
	if err == nil {
		h.log.InfoContext(ctx, "security key registered", "login", viewer.Login, "name", body.Name)
	}
	h.decided(w, r, "register the security key", err,
		"Security key "+body.Name+" is registered. Approvals that need one will ask for it.", "")
}

// modelRefused says why an authenticator model may not be registered
// under webauthn.allowed_aaguids, or "". A key that reports no model
// (the zero AAGUID) is refused when a list is set: it fails closed,
// unlike go-webauthn's filter, which lets the zero AAGUID through.
func (h *Handler) modelRefused(aaguid []byte) string {
	if len(h.mfa.allowed) == 0 {
		return ""
	}
	if slices.ContainsFunc(h.mfa.allowed, func(id []byte) bool { return bytes.Equal(id, aaguid) }) {
		return ""
	}
	shown := "none"
	if len(aaguid) == 16 && !bytes.Equal(aaguid, make([]byte, 16)) {
		h := hex.EncodeToString(aaguid)
		shown = h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	return "this kind of security key (AAGUID " + shown + ") is not on the list this Tollgate allows (webauthn.allowed_aaguids)"
}
