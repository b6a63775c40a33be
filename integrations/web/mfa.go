package web

import (
	"context"
	"crypto/sha256"
	_ "embed" // mfa.js
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/mfastate"
)

// The security key pages (issue 14): registering a WebAuthn credential
// from the one-time link /deploy mfa register hands out, and approving
// (or confirming an emergency change, or reviewing one) with an assertion
// over exactly what is approved. Each page is behind the GitHub login;
// each ceremony is stored server-side (mfastate), used once and bound to
// the person who started it. The web transport verifies the ceremony
// (go-webauthn) and calls bot, which decides.

// MFAService is what the security key pages ask of the domain;
// *bot.Service implements it.
type MFAService interface {
	IdentityFor(ctx context.Context, chat bot.ChatIdentity) (bot.Identity, error)
	MFACredentials(ctx context.Context, githubID int64) ([]bot.MFACredential, error)
	RegisterMFACredential(ctx context.Context, who bot.Identity, c bot.MFACredential) error
	Approve(ctx context.Context, in bot.ApproveInput) (bot.Request, error)
	ApprovalNeedsMFA(r bot.Request) bool
	EmergencyNeedsMFA(repo, env string) (configHash string, needed bool)
	EmergencyReviews(ctx context.Context, pendingOnly bool) ([]bot.EmergencyReview, error)
	ReviewEmergencyWithMFA(ctx context.Context, id string, by bot.Identity, outcome bot.ReviewOutcome, note string, proof *bot.MFAProof) (bot.EmergencyReview, error)
	ResolveEmergency(ctx context.Context, in bot.NewRequest) (sha, configHash string, err error)
	Submit(ctx context.Context, in bot.NewRequest) (bot.Outcome, error)
	RefuseMFA(ctx context.Context, who bot.Identity, purpose bot.MFAPurpose, subject, reason string) error
}

// MFAConfig turns the security key pages on.
type MFAConfig struct {
	Service MFAService
	States  mfastate.Store
	// Attestation is asked of authenticators at registration: "none"
	// (default), "indirect" or "direct".
	Attestation string
	// AllowedAAGUIDs, when set, are the only authenticator models that may
	// be registered (lower-case UUIDs).
	AllowedAAGUIDs []string
	// CeremonyTTL is how long a started ceremony may take; 0 means 5 minutes.
	CeremonyTTL time.Duration
}

// Paths of the security key pages.
const (
	PathMFARegister  = "/mfa/register"
	PathMFAApprove   = "/mfa/approve/"
	PathMFAReview    = "/mfa/review/"
	PathMFAEmergency = "/mfa/emergency"
	PathMFAScript    = "/mfa/mfa.js"
)

// mfaPurposeRegister names registration ceremonies and their refusals.
const mfaPurposeRegister bot.MFAPurpose = "register"

// mfaContentSecurityPolicy is the pages' policy with the one script they
// need: same origin only (no inline script), and fetch only to themselves.
const mfaContentSecurityPolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; " +
	"img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

//go:embed static/mfa.js
var mfaScript []byte

// mfa is the Handler's security key part.
type mfa struct {
	cfg     MFAConfig
	rp      *webauthn.WebAuthn // nil when the public URL cannot be a relying party
	off     string             // why rp is nil, for the pages' answer
	allowed [][]byte           // webauthn.allowed_aaguids, 16 bytes each
}

// newMFA builds the relying party: its ID is the public URL's host, its
// one origin the public URL's scheme and host.
func newMFA(cfg MFAConfig, public *url.URL) (*mfa, error) {
	if cfg.Service == nil || cfg.States == nil {
		return nil, errors.New("web: MFA needs Service and States")
	}
	if cfg.CeremonyTTL <= 0 {
		cfg.CeremonyTTL = 5 * time.Minute
	}
	conveyance := protocol.ConveyancePreference(cfg.Attestation)
	switch conveyance {
	case "":
		conveyance = protocol.PreferNoAttestation
	case protocol.PreferNoAttestation, protocol.PreferIndirectAttestation, protocol.PreferDirectAttestation:
	default:
		return nil, fmt.Errorf("web: unknown attestation %q", cfg.Attestation)
	}
	m := &mfa{cfg: cfg}
	for _, s := range cfg.AllowedAAGUIDs {
		id, err := hex.DecodeString(strings.ReplaceAll(s, "-", ""))
		if err != nil || len(id) != 16 {
			return nil, fmt.Errorf("web: AAGUID %q is not a UUID", s)
		}
		m.allowed = append(m.allowed, id)
	}
	host, origin := public.Hostname(), public.Scheme+"://"+public.Host
	if net.ParseIP(host) != nil {
		// WebAuthn's RP ID is a domain: an install reached by IP address
		// serves its other pages, and these say why they cannot work
		// (config refuses environments that require keys on such a URL).
		m.off = "security keys need public_url to name a host (" + host + " is an IP address)"
		return m, nil
	}
	rp, err := webauthn.New(&webauthn.Config{RPID: host, RPDisplayName: "Tollgate", RPOrigins: []string{origin},
		AttestationPreference: conveyance,
		AuthenticatorSelection: protocol.AuthenticatorSelection{UserVerification: protocol.VerificationRequired,
			ResidentKey: protocol.ResidentKeyRequirementPreferred}})
	if err != nil {
		return nil, fmt.Errorf("web: WebAuthn relying party %s: %w", host, err)
	}
	m.rp = rp
	return m, nil
}

// registerMFA mounts the security key pages.
func (h *Handler) registerMFA(mux *http.ServeMux) {
	page := func(f func(http.ResponseWriter, *http.Request)) http.Handler {
		if h.mfa.rp == nil {
			f = func(w http.ResponseWriter, r *http.Request) {
				h.message(w, r, http.StatusServiceUnavailable, "Security keys unavailable", "Tollgate cannot use "+h.mfa.off+".")
			}
		}
		return h.secured(scripted(h.requireLogin(f)))
	}
	mux.Handle("GET "+PathMFAScript, h.secured(http.HandlerFunc(serveMFAScript)))
	mux.Handle("GET "+PathMFARegister, page(h.mfaRegisterPage))
	mux.Handle("POST "+PathMFARegister+"/finish", page(h.mfaRegisterFinish))
	mux.Handle("GET "+PathMFAApprove+"{id}", page(h.mfaApprovePage))
	mux.Handle("POST "+PathMFAApprove+"{id}/finish", page(h.mfaApproveFinish))
	mux.Handle("GET "+PathMFAReview+"{id}", page(h.mfaReviewForm))
	mux.Handle("POST "+PathMFAReview+"{id}", page(h.mfaReviewPage))
	mux.Handle("POST "+PathMFAReview+"{id}/finish", page(h.mfaReviewFinish))
	mux.Handle("GET "+PathMFAEmergency, page(h.mfaEmergencyPage))
	mux.Handle("POST "+PathMFAEmergency+"/finish", page(h.mfaEmergencyFinish))
}

// scripted replaces the pages' policy with one that admits the same-origin
// script, and lets the page use WebAuthn (and nothing else powerful).
func scripted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", mfaContentSecurityPolicy)
		w.Header().Set("Permissions-Policy", "publickey-credentials-get=(self), publickey-credentials-create=(self), "+
			"camera=(), microphone=(), geolocation=()")
		next.ServeHTTP(w, r)
	})
}

func serveMFAScript(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	_, _ = w.Write(mfaScript)
}

// ceremony is what a started ceremony keeps server-side (mfastate Data).
type ceremony struct {
	Purpose   bot.MFAPurpose       `json:"purpose"`
	Session   webauthn.SessionData `json:"session"`
	Challenge *bot.MFAChallenge    `json:"challenge,omitempty"` // assertions
	ChatUser  string               `json:"chat_user,omitempty"` // registration: the Slack account the link was for
	Outcome   bot.ReviewOutcome    `json:"outcome,omitempty"`   // reviews
	Note      string               `json:"note,omitempty"`
	Ask       *emergencyAsk        `json:"ask,omitempty"` // emergency changes
}

// startCeremony stores c for viewer and returns its one-time key.
func (h *Handler) startCeremony(ctx context.Context, viewer Viewer, subject string, c ceremony) (string, error) {
	data, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encoding the ceremony: %w", err)
	}
	key, now := newSecret(), h.now().UTC()
	err = h.mfa.cfg.States.SaveMFAState(ctx, mfastate.State{Kind: mfastate.KindCeremony, Key: key, GitHubID: viewer.GitHubID,
		Subject: subject, Data: data, CreatedAt: now, ExpiresAt: now.Add(h.mfa.cfg.CeremonyTTL)})
	if err != nil {
		return "", err
	}
	return key, nil
}

// finishBody is what the page's script posts.
type finishBody struct {
	Ceremony   string          `json:"ceremony"`
	Name       string          `json:"name,omitempty"`
	Credential json.RawMessage `json:"credential"`
}

// maxFinishBody bounds a posted credential.
const maxFinishBody = 64 << 10

// errRefused carries a refusal already written to the browser.
var errRefused = errors.New("refused")

// readFinish checks a ceremony's finishing POST comes from this site's
// page (Origin, JSON), uses the ceremony once, and checks it was started
// by the signed-in viewer about subject. A refusal is audited through
// bot, answered, and returned as errRefused.
func (h *Handler) readFinish(w http.ResponseWriter, r *http.Request, purpose bot.MFAPurpose, subject string) (finishBody, ceremony, error) {
	ctx, viewer := r.Context(), viewerFrom(r.Context())
	var body finishBody
	if o := r.Header.Get("Origin"); o != h.public.Scheme+"://"+h.public.Host ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		writeOutcome(w, http.StatusForbidden, false, "Finish on Tollgate's own page.", "")
		return body, ceremony{}, errRefused
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxFinishBody)).Decode(&body); err != nil || body.Ceremony == "" {
		writeOutcome(w, http.StatusBadRequest, false, "The page sent something Tollgate cannot read. Reload it and try again.", "")
		return body, ceremony{}, errRefused
	}
	st, err := h.mfa.cfg.States.ConsumeMFAState(ctx, mfastate.KindCeremony, body.Ceremony, h.now().UTC())
	var reason string
	switch {
	case errors.Is(err, mfastate.ErrExpired):
		reason = "this page's security key challenge expired; reload the page for a fresh one"
	case errors.Is(err, mfastate.ErrUsed):
		reason = "this page's security key challenge was already used; reload the page for a fresh one"
	case errors.Is(err, mfastate.ErrUnknown):
		reason = "this security key challenge was never issued"
	case err != nil:
		h.log.ErrorContext(ctx, "web: reading a ceremony", "err", err)
		writeOutcome(w, http.StatusServiceUnavailable, false, "Tollgate could not check this. Try again.", "")
		return body, ceremony{}, errRefused
	case st.GitHubID != viewer.GitHubID:
		reason = "this security key challenge was issued to someone else"
	case subject != "" && st.Subject != subject:
		reason = "this security key challenge was issued for " + st.Subject + ", not " + subject
	}
	var c ceremony
	if reason == "" && (json.Unmarshal(st.Data, &c) != nil || c.Purpose != purpose) {
		reason = "this security key challenge was issued for something else"
	}
	if reason != "" {
		h.refuseMFA(w, r, purpose, subject, reason)
		return body, ceremony{}, errRefused
	}
	return body, c, nil
}

// refuseMFA audits a refusal the ceremony made (through bot) and answers it.
func (h *Handler) refuseMFA(w http.ResponseWriter, r *http.Request, purpose bot.MFAPurpose, subject, reason string) {
	ctx, viewer := r.Context(), viewerFrom(r.Context())
	err := h.mfa.cfg.Service.RefuseMFA(ctx, identityOf(viewer), purpose, subject, reason)
	if _, ok := bot.AsRefusal(err); !ok {
		h.log.ErrorContext(ctx, "web: auditing a refused ceremony", "err", err)
		writeOutcome(w, http.StatusServiceUnavailable, false, "Tollgate could not record this attempt. Try again.", "")
		return
	}
	h.log.WarnContext(ctx, "security key ceremony refused", "login", viewer.Login, "purpose", purpose, "subject", subject, "reason", reason)
	writeOutcome(w, http.StatusForbidden, false, "Refused: "+reason+".", "")
}

// outcome is the answer to a finishing POST, which the page's script shows.
type outcome struct {
	OK      bool   `json:"ok"`
	Message string `json:"message"`
	Next    string `json:"next,omitempty"`
}

func writeOutcome(w http.ResponseWriter, status int, ok bool, msg, next string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(outcome{OK: ok, Message: msg, Next: next})
}

// decided answers bot's verdict on a finished ceremony: a refusal the
// person can read, or an internal error logged.
func (h *Handler) decided(w http.ResponseWriter, r *http.Request, what string, err error, okMsg, next string) {
	if ref, ok := bot.AsRefusal(err); ok {
		writeOutcome(w, http.StatusForbidden, false, "Refused: "+ref.Reason+".", "")
		return
	}
	if err != nil {
		h.log.ErrorContext(r.Context(), "web: "+what, "err", err)
		writeOutcome(w, http.StatusInternalServerError, false, "Tollgate could not "+what+"; the error is in the server log.", "")
		return
	}
	writeOutcome(w, http.StatusOK, true, okMsg, next)
}

// identityOf is the viewer as bot knows people: the GitHub account they
// signed in with.
func identityOf(v Viewer) bot.Identity { return bot.Identity{Login: v.Login, GitHubID: v.GitHubID} }

// rpUser is a person as go-webauthn needs them.
type rpUser struct {
	id    []byte
	login string
	creds []webauthn.Credential
}

func (u rpUser) WebAuthnID() []byte                         { return u.id }
func (u rpUser) WebAuthnName() string                       { return u.login }
func (u rpUser) WebAuthnDisplayName() string                { return u.login }
func (u rpUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// userHandle is the WebAuthn user handle of a GitHub account: a digest of
// its numeric id, so the authenticator stores no login or personal data.
func userHandle(githubID int64) []byte {
	sum := sha256.Sum256(binary.BigEndian.AppendUint64([]byte("tollgate-webauthn-user/v1:"), uint64(githubID)))
	return sum[:]
}

// userOf builds the viewer's relying-party user from their stored keys.
func userOf(v Viewer, cs []bot.MFACredential) rpUser {
	u := rpUser{id: userHandle(v.GitHubID), login: v.Login}
	for _, c := range cs {
		u.creds = append(u.creds, webauthn.Credential{ID: c.ID, PublicKey: c.PublicKey, AttestationFormat: c.AttestationFormat,
			Flags:         webauthn.CredentialFlags{UserPresent: true, UserVerified: true, BackupEligible: c.BackupEligible, BackupState: c.BackupState},
			Authenticator: webauthn.Authenticator{AAGUID: c.AAGUID, SignCount: c.SignCount}})
	}
	return u
}

// describeWebAuthn names why go-webauthn refused, for the person and the
// audit log: its details and dev info say which step failed.
func describeWebAuthn(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		msg := strings.TrimSuffix(pe.Details, ".")
		if info := strings.Join(strings.Fields(pe.DevInfo), " "); info != "" {
			msg += " (" + clip(info, 200) + ")"
		}
		return "the security key's answer does not verify: " + msg
	}
	return "the security key's answer does not verify: " + err.Error()
}

// clip bounds s to n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
