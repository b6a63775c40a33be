// Package mfaproof re-verifies, offline, the WebAuthn assertions Tollgate
// records in its audit log (issue 14): from an audit entry alone, with no
// database and no trust in the server that accepted it, it checks that the
// assertion was made over exactly what the entry says was authorised and
// that its signature verifies with the credential's public key. `tollgate
// verify` and the evidence pack run it over every entry that carries one.
package mfaproof

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/tollgate-dev/tollgate/bot"
)

// Actions whose entries may carry an assertion, under "mfa".
var Actions = []string{bot.ActionApprovalGranted, bot.ActionRequestCreated, bot.ActionEmergencyReviewed}

// entryData is what an entry says was authorised, and its assertion.
type entryData struct {
	MFA         *bot.MFAProof `json:"mfa"`
	SHA         string        `json:"sha"`
	ConfigHash  string        `json:"config_hash"`
	ApproverID  int64         `json:"approver_id"`
	RequesterID int64         `json:"requester_id"`
	ReviewerID  int64         `json:"reviewer_id"`
	SourceKey   string        `json:"source_key"`
	Reason      string        `json:"reason"`
	Outcome     string        `json:"outcome"`
	Note        string        `json:"note"`
}

// CheckEntry re-verifies the assertion an audit entry carries. carried is
// false when it carries none (err is then nil); err says why a carried
// assertion does not verify. With a registry (the log read up to this
// entry) the credential must also be registered to the signer with that
// public key; without one the entry is checked on its own. at is when the
// entry was recorded: the challenge must not have expired by then (zero:
// not checked).
func CheckEntry(reg *Registry, action, subject string, at time.Time, data []byte) (carried bool, err error) {
	var d entryData
	if err := json.Unmarshal(data, &d); err != nil {
		// An entry whose data is not JSON carries nothing we can read; the
		// audit log's own verification covers its bytes.
		return false, nil
	}
	if d.MFA == nil {
		return false, nil
	}
	p := d.MFA
	want, who := bot.MFAChallenge{RequestID: subject, SHA: d.SHA}, int64(0)
	switch action {
	case bot.ActionApprovalGranted:
		want.Purpose, want.ConfigHash, who = bot.MFAApprove, d.ConfigHash, d.ApproverID
	case bot.ActionRequestCreated:
		// No request existed yet: the assertion names the ask's source key.
		// request.created does not record the policy hash; the signed
		// challenge carries it, and policy.decided records it.
		want = bot.EmergencyChallenge(d.SourceKey, d.SHA, p.Challenge.ConfigHash, d.Reason)
		who = d.RequesterID
	case bot.ActionEmergencyReviewed:
		want = bot.EmergencyReviewChallenge(bot.EmergencyReview{RequestID: subject, SHA: d.SHA}, p.Challenge.ConfigHash,
			bot.ReviewOutcome(d.Outcome), d.Note)
		who = d.ReviewerID
	default:
		return true, fmt.Errorf("%s entries do not carry assertions", action)
	}
	c := p.Challenge
	switch {
	case c.Purpose != want.Purpose || c.RequestID != want.RequestID || c.SHA != want.SHA ||
		c.ConfigHash != want.ConfigHash || c.Detail != want.Detail:
		return true, fmt.Errorf("the assertion's challenge (%s of %s at %s) is not bound to what the entry records",
			c.Purpose, c.RequestID, c.SHA)
	case p.GitHubID == 0 || p.GitHubID != who:
		return true, fmt.Errorf("the assertion's credential belongs to GitHub user %d, not to %d who acted", p.GitHubID, who)
	case !at.IsZero() && !at.Before(c.ExpiresAt):
		return true, fmt.Errorf("the entry was recorded at %s, after the assertion's challenge expired at %s (a stale challenge)",
			at.UTC().Format(time.RFC3339), c.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if err := Verify(p); err != nil {
		return true, err
	}
	if reg != nil {
		if err := reg.Check(p); err != nil {
			return true, fmt.Errorf("the assertion verifies, but %w", err)
		}
	}
	return true, nil
}

// Verify checks that p's signature verifies with its public key over its
// authenticator data and client data, and that those are an assertion
// (webauthn.get) over p.Challenge's digest, for p's RP ID, from an origin
// of that RP ID, with the user present and verified.
func Verify(p *bot.MFAProof) error {
	if p == nil {
		return errors.New("no assertion")
	}
	u, err := url.Parse(p.Origin)
	if err != nil || u.Hostname() == "" || (u.Hostname() != p.RPID && !strings.HasSuffix(u.Hostname(), "."+p.RPID)) {
		return fmt.Errorf("origin %q is not within the relying party %q", p.Origin, p.RPID)
	}
	car := protocol.CredentialAssertionResponse{
		PublicKeyCredential: protocol.PublicKeyCredential{
			Credential: protocol.Credential{ID: base64.RawURLEncoding.EncodeToString(p.CredentialID),
				Type: string(protocol.PublicKeyCredentialType)},
			RawID: p.CredentialID,
		},
		AssertionResponse: protocol.AuthenticatorAssertionResponse{
			AuthenticatorResponse: protocol.AuthenticatorResponse{ClientDataJSON: p.ClientDataJSON},
			AuthenticatorData:     p.AuthenticatorData,
			Signature:             p.Signature,
			UserHandle:            p.UserHandle,
		},
	}
	parsed, err := car.Parse()
	if err != nil {
		return fmt.Errorf("the assertion does not parse: %s", describe(err))
	}
	challenge := base64.RawURLEncoding.EncodeToString(p.Challenge.Digest())
	if err := parsed.Verify(challenge, p.RPID, "", []string{p.Origin}, nil, nil, protocol.TopOriginExplicitVerificationMode,
		false, true, true, p.PublicKey, protocol.SignaturePolicy{ECDSAEncoding: protocol.ECDSASignatureEncodingDER}); err != nil {
		return fmt.Errorf("the assertion does not verify: %s", describe(err))
	}
	return nil
}

// describe names a go-webauthn error by its details and info, which say
// which step failed.
func describe(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		msg := pe.Details
		if pe.DevInfo != "" {
			msg += " (" + strings.ReplaceAll(pe.DevInfo, "\n", " ") + ")"
		}
		return msg
	}
	return err.Error()
}

// EntryTime is an audit entry's time as stored (RFC 3339); zero when it does
// not parse (the log's own verification covers the entry's bytes).
func EntryTime(at string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, at)
	return t
}
