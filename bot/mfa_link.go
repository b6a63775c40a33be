package bot

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// ApprovalChallenge is what an approver's assertion over r is bound to,
// without its nonce and expiry: the request, its SHA and its policy hash.
func ApprovalChallenge(r Request) MFAChallenge {
	return MFAChallenge{Purpose: MFAApprove, RequestID: r.ID, SHA: r.SHA, ConfigHash: r.ConfigHash}
}

// MFALinkToken is the secret in the link a Slack button opens for an
// action on r that needs a security key: derived from the request's
// approval nonce (which only the request's message carries), so the link
// works only from that message, and needs nothing stored. It is not the
// nonce: a link seen in a browser history does not make Slack buttons.
func (r Request) MFALinkToken(purpose MFAPurpose) string {
	m := hmac.New(sha256.New, []byte(r.ApprovalNonce))
	m.Write([]byte("tollgate-mfa-link/v1\x00" + string(purpose) + "\x00" + r.ID))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// MFALinkTokenValid reports, in constant time, whether token is r's link
// token for purpose.
func (r Request) MFALinkTokenValid(purpose MFAPurpose, token string) bool {
	return r.ApprovalNonce != "" && subtle.ConstantTimeCompare([]byte(token), []byte(r.MFALinkToken(purpose))) == 1
}

// ApprovalNeedsMFA reports whether approving r needs a security key under
// the policy in force (approvals.require_webauthn).
func (s *Service) ApprovalNeedsMFA(r Request) bool {
	p, ok := s.policies.Environment(r.Repo, r.Environment)
	return ok && p.ApprovalsRequireWebAuthn
}

// EmergencyNeedsMFA reports whether emergency changes to repo's env, and
// their reviews, need a security key (emergency.require_webauthn), and
// the hash of the policy in force, which such an assertion is bound to.
func (s *Service) EmergencyNeedsMFA(repo, env string) (configHash string, needed bool) {
	p, ok := s.policies.Environment(repo, env)
	if !ok || !p.EmergencyRequireWebAuthn {
		return "", false
	}
	return p.Hash(), true
}
