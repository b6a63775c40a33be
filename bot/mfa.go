package bot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Phishing-resistant approvals (issue 14). Where the policy asks for it,
// an action counts only with a fresh WebAuthn assertion (a security key or
// a passkey) whose challenge is derived from exactly what is authorised:
// the request, its SHA, the policy hash, a server nonce and an expiry.
// The web transport runs the ceremony and verifies the signature
// (go-webauthn); bot checks that the proof is bound to this action and
// this person, and that the credential is registered to them, and records
// the proof in the audit entry so it can be re-verified offline
// (internal/mfaproof).

// MFAPurpose names what an assertion authorises.
type MFAPurpose string

// Purposes of an assertion.
const (
	MFAApprove         MFAPurpose = "approve"          // an approval of a request
	MFAEmergencyDeploy MFAPurpose = "emergency_deploy" // an emergency change, by its requester
	MFAEmergencyReview MFAPurpose = "emergency_review" // the after-the-fact review of an emergency change
)

// MFAChallenge is what an assertion is bound to. Its Digest is the
// WebAuthn challenge the authenticator signs (inside clientDataJSON).
type MFAChallenge struct {
	Purpose MFAPurpose `json:"purpose"`
	// RequestID is the request approved or reviewed; for an emergency
	// deploy, which has no request yet, the ask's source key.
	RequestID  string `json:"request_id"`
	SHA        string `json:"sha"`
	ConfigHash string `json:"config_hash"`
	// Detail binds what else the person decides: a review's verdict and
	// note, an emergency change's reason (MFADetail); "" for approvals.
	Detail    string    `json:"detail,omitempty"`
	Nonce     string    `json:"nonce"` // server-chosen, random per ceremony
	ExpiresAt time.Time `json:"expires_at"`
}

// challengeDomain separates Tollgate's challenges from any other use of
// the same authenticator; v1 names this encoding.
const challengeDomain = "tollgate-webauthn-challenge/v1"

// Digest is the challenge: SHA-256 over the length-prefixed fields, so no
// two different challenges encode alike.
func (c MFAChallenge) Digest() []byte {
	var b bytes.Buffer
	for _, f := range []string{challengeDomain, string(c.Purpose), c.RequestID, c.SHA, c.ConfigHash, c.Detail,
		c.Nonce, c.ExpiresAt.UTC().Format(time.RFC3339Nano)} {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(f))) // a bytes.Buffer write never fails
		b.WriteString(f)
	}
	sum := sha256.Sum256(b.Bytes())
	return sum[:]
}

// MFADetail digests the free text an assertion also authorises (a note,
// a reason), so the challenge binds it without carrying it.
func MFADetail(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		_ = binary.Write(h, binary.BigEndian, uint32(len(p))) // a hash write never fails
		h.Write([]byte(p))
	}
	return fmt.Sprintf("sha256:%x", h.Sum(nil))
}

// MFAProof is one WebAuthn assertion as the authenticator produced it,
// with the credential it was made with. It goes whole into the audit
// entry of the action it authorised; nothing in it is secret.
type MFAProof struct {
	Challenge         MFAChallenge `json:"challenge"`
	GitHubID          int64        `json:"github_id"` // whose credential
	CredentialID      []byte       `json:"credential_id"`
	CredentialName    string       `json:"credential_name"`
	PublicKey         []byte       `json:"public_key"` // COSE_Key, as registered
	AuthenticatorData []byte       `json:"authenticator_data"`
	ClientDataJSON    []byte       `json:"client_data_json"`
	Signature         []byte       `json:"signature"`
	UserHandle        []byte       `json:"user_handle,omitempty"`
	RPID              string       `json:"rp_id"`
	Origin            string       `json:"origin"`
	SignCount         uint32       `json:"sign_count"`
}

// Authenticator data flags (WebAuthn §6.1).
const (
	flagUserPresent  = 0x01
	flagUserVerified = 0x04
)

// Refusal codes of MFA.
const (
	CodeMFARequired  RefusalCode = "mfa_required"   // the action needs an assertion and has none
	CodeMFAInvalid   RefusalCode = "mfa_invalid"    // the assertion is not for this action, person or key
	CodeMFANameTaken RefusalCode = "mfa_name_taken" // a credential of that name exists
	CodeMFAUnknown   RefusalCode = "mfa_unknown"    // no credential of that name
)

// checkMFA checks, in pure code, that proof authorises want (purpose,
// request, SHA, policy hash, detail) for who at now: the challenge it
// signed is want's digest and has not expired, the authenticator saw the
// user present and verified them, and the RP ID is the one signed for.
// The signature itself was verified by the ceremony and is re-verified
// offline; the credential's owner is checked against the store by
// mfaCredentialOwned.
func checkMFA(proof *MFAProof, want MFAChallenge, who Identity, now time.Time, what string) *Refusal {
	if proof == nil {
		return refuse(CodeMFARequired, "%s needs a security key or passkey (WebAuthn): use the page Tollgate links to "+
			"(register a key first with /deploy mfa register)", what)
	}
	c := proof.Challenge
	switch {
	case who.GitHubID == 0 || proof.GitHubID != who.GitHubID:
		return refuse(CodeMFAInvalid, "the security key assertion is not %s's", who.Login)
	case c.Purpose != want.Purpose || c.RequestID != want.RequestID || c.SHA != want.SHA ||
		c.ConfigHash != want.ConfigHash || c.Detail != want.Detail:
		return refuse(CodeMFAInvalid, "the security key assertion was made for something else (%s of %s at %s), not for this %s",
			c.Purpose, c.RequestID, short(c.SHA), what)
	case !now.Before(c.ExpiresAt):
		return refuse(CodeMFAInvalid, "the security key challenge expired at %s; open the page again",
			c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if reason := proof.bindingProblem(); reason != "" {
		return refuse(CodeMFAInvalid, "the security key assertion does not hold: %s", reason)
	}
	return nil
}

// bindingProblem says what in the signed data does not match the proof's
// own challenge, RP ID and origin, or "".
func (p *MFAProof) bindingProblem() string {
	var cd struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
		Origin    string `json:"origin"`
	}
	if err := json.Unmarshal(p.ClientDataJSON, &cd); err != nil {
		return "client data is not JSON"
	}
	got, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(cd.Challenge, "="))
	switch {
	case cd.Type != "webauthn.get":
		return fmt.Sprintf("client data type %q is not an assertion", cd.Type)
	case err != nil || !bytes.Equal(got, p.Challenge.Digest()):
		return "the signed challenge is not the one derived from what is authorised"
	case cd.Origin != p.Origin:
		return fmt.Sprintf("signed origin %q, recorded %q", cd.Origin, p.Origin)
	case len(p.AuthenticatorData) < 37:
		return "authenticator data is too short"
	}
	rp := sha256.Sum256([]byte(p.RPID))
	flags := p.AuthenticatorData[32]
	switch {
	case !bytes.Equal(p.AuthenticatorData[:32], rp[:]):
		return fmt.Sprintf("signed for another relying party than %q", p.RPID)
	case flags&flagUserPresent == 0:
		return "the authenticator did not see the user present"
	case flags&flagUserVerified == 0:
		return "the authenticator did not verify the user (PIN or biometric)"
	}
	return ""
}

// RefuseMFA audits a security key ceremony the web transport refused
// before bot could weigh it (a ceremony expired, used or started for
// someone else, an assertion whose signature does not verify, a link for
// another person) and returns the refusal. purpose names what was
// attempted; "register" for a registration.
func (s *Service) RefuseMFA(ctx context.Context, who Identity, purpose MFAPurpose, subject, reason string) error {
	ref := refuse(CodeMFAInvalid, "%s", reason)
	if purpose == MFAApprove {
		return s.refuseApproval(ctx, ApproveInput{RequestID: subject, Approver: who}, ref)
	}
	return s.refuseAction(ctx, who, "mfa."+string(purpose), subject, ref)
}
