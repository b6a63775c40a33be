package mfaproof_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/mfaproof"
	"github.com/tollgate-dev/tollgate/internal/webauthntest"
)

const (
	rpID   = "tollgate.example.com"
	origin = "https://tollgate.example.com"
	sha    = "3f9c2a1d5e8b7c6a4f3e2d1c0b9a8f7e6d5c4b3a"
)

var uvFlags = webauthntest.UserPresent | webauthntest.UserVerified

// approvalEntry is the data of an approval.granted entry carrying p.
func approvalEntry(t *testing.T, p *bot.MFAProof, approverID int64) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"approver": "carol", "approver_id": approverID, "sha": sha, "config_hash": "cfg-1", "mfa": p})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func challenge(id string) bot.MFAChallenge {
	return bot.MFAChallenge{Purpose: bot.MFAApprove, RequestID: id, SHA: sha, ConfigHash: "cfg-1", Nonce: "n1",
		ExpiresAt: time.Date(2026, 1, 5, 10, 2, 0, 0, time.UTC)}
}

func TestCheckEntryReverifiesAnApproval(t *testing.T) {
	key := webauthntest.New()
	good := key.Assert(challenge("r-1"), 3, rpID, origin, uvFlags)
	carried, err := mfaproof.CheckEntry(nil, bot.ActionApprovalGranted, "r-1", time.Time{}, approvalEntry(t, good, 3))
	if !carried || err != nil {
		t.Fatalf("a genuine assertion: carried %v, %v", carried, err)
	}
	if carried, err := mfaproof.CheckEntry(nil, bot.ActionApprovalGranted, "r-1", time.Time{}, []byte(`{"approver":"carol","sha":"x"}`)); carried || err != nil {
		t.Errorf("an entry without an assertion: carried %v, %v", carried, err)
	}

	flip := func(f func(p *bot.MFAProof)) *bot.MFAProof {
		cp := *good
		cp.AuthenticatorData = append([]byte{}, good.AuthenticatorData...)
		cp.ClientDataJSON = append([]byte{}, good.ClientDataJSON...)
		cp.Signature = append([]byte{}, good.Signature...)
		f(&cp)
		return &cp
	}
	other := webauthntest.New()
	tests := []struct {
		name    string
		subject string
		entry   []byte
		want    string
	}{
		{"a flipped byte in the signature", "r-1", approvalEntry(t, flip(func(p *bot.MFAProof) { p.Signature[10] ^= 0x01 }), 3), "does not verify"},
		{"a flipped byte in the authenticator data", "r-1", approvalEntry(t, flip(func(p *bot.MFAProof) { p.AuthenticatorData[34] ^= 0x01 }), 3), "does not verify"},
		{"a flipped byte in the client data", "r-1", approvalEntry(t, flip(func(p *bot.MFAProof) { p.ClientDataJSON[len(p.ClientDataJSON)-3] ^= 0x01 }), 3), "does not verify"},
		{"another key's public key", "r-1", approvalEntry(t, flip(func(p *bot.MFAProof) { p.PublicKey = other.PublicKey() }), 3), "does not verify"},
		{"recorded under another request", "r-2", approvalEntry(t, good, 3), "not bound to what the entry records"},
		{"a challenge rewritten to fit another request", "r-2", approvalEntry(t, flip(func(p *bot.MFAProof) { p.Challenge.RequestID = "r-2" }), 3), "does not verify"},
		{"credited to someone else", "r-1", approvalEntry(t, good, 4), "belongs to GitHub user 3, not to 4"},
		{"an origin outside the relying party", "r-1", approvalEntry(t, flip(func(p *bot.MFAProof) { p.Origin = "https://evil.example" }), 3), "not within the relying party"},
		{"without user verification", "r-1", approvalEntry(t, key.Assert(challenge("r-1"), 3, rpID, origin, webauthntest.UserPresent), 3), "does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			carried, err := mfaproof.CheckEntry(nil, bot.ActionApprovalGranted, tt.subject, time.Time{}, tt.entry)
			if !carried || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("carried %v, err %v; want an error containing %q", carried, err, tt.want)
			}
		})
	}
}

func TestCheckEntryReverifiesEmergencyAssertions(t *testing.T) {
	key := webauthntest.New()
	ch := bot.EmergencyChallenge("slack:T1/trigger", sha, "cfg-9", "site down INC-7")
	ch.Nonce, ch.ExpiresAt = "n", time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	created, _ := json.Marshal(map[string]any{"sha": sha, "source_key": "slack:T1/trigger", "reason": "site down INC-7",
		"requester_id": 5, "mfa": key.Assert(ch, 5, rpID, origin, uvFlags)})
	if carried, err := mfaproof.CheckEntry(nil, bot.ActionRequestCreated, "r-9", time.Time{}, created); !carried || err != nil {
		t.Errorf("emergency change: carried %v, %v", carried, err)
	}
	tampered := strings.Replace(string(created), "site down INC-7", "site down INC-8", 1)
	if _, err := mfaproof.CheckEntry(nil, bot.ActionRequestCreated, "r-9", time.Time{}, []byte(tampered)); err == nil {
		t.Error("an emergency change whose recorded reason differs from the signed one re-verified")
	}

	rch := bot.EmergencyReviewChallenge(bot.EmergencyReview{RequestID: "r-9", SHA: sha}, "cfg-9", bot.ReviewAcceptable, "ok")
	rch.Nonce, rch.ExpiresAt = "m", ch.ExpiresAt
	reviewed, _ := json.Marshal(map[string]any{"sha": sha, "outcome": "acceptable", "note": "ok", "reviewer_id": 3,
		"mfa": key.Assert(rch, 3, rpID, origin, uvFlags)})
	if carried, err := mfaproof.CheckEntry(nil, bot.ActionEmergencyReviewed, "r-9", time.Time{}, reviewed); !carried || err != nil {
		t.Errorf("emergency review: carried %v, %v", carried, err)
	}
	swapped := strings.Replace(string(reviewed), `"outcome":"acceptable"`, `"outcome":"not_acceptable"`, 1)
	if _, err := mfaproof.CheckEntry(nil, bot.ActionEmergencyReviewed, "r-9", time.Time{}, []byte(swapped)); err == nil {
		t.Error("a review whose recorded verdict differs from the signed one re-verified")
	}
}

func TestRegistryFollowsRegistrationsAndRemovals(t *testing.T) {
	key, other := webauthntest.New(), webauthntest.New()
	entry := func(id, name string, k *webauthntest.Authenticator) []byte {
		b, _ := json.Marshal(map[string]any{"github_id": id, "name": name,
			"credential_id": base64.StdEncoding.EncodeToString(k.ID), "public_key": base64.StdEncoding.EncodeToString(k.PublicKey())})
		return []byte(strings.Replace(string(b), `"github_id":"`+id+`"`, `"github_id":`+id, 1))
	}
	reg := mfaproof.NewRegistry()
	check := func(p *bot.MFAProof) error {
		_, err := mfaproof.CheckEntry(reg, bot.ActionApprovalGranted, "r-1", time.Time{}, approvalEntry(t, p, p.GitHubID))
		return err
	}
	proof := key.Assert(challenge("r-1"), 3, rpID, origin, uvFlags)
	if err := check(proof); err == nil || !strings.Contains(err.Error(), "is not registered in the audit log") {
		t.Fatalf("before registration: %v", err)
	}
	reg.Observe(1, bot.ActionMFARegistered, entry("3", "yubikey", key))
	if err := check(proof); err != nil {
		t.Fatalf("registered: %v", err)
	}
	reg.Observe(2, bot.ActionMFARegistered, entry("4", "laptop", other))
	if err := check(other.Assert(challenge("r-1"), 3, rpID, origin, uvFlags)); err == nil ||
		!strings.Contains(err.Error(), "registered (entry 2) to GitHub user 4, not 3") {
		t.Fatalf("someone else's key: %v", err)
	}
	swapped := key.Assert(challenge("r-1"), 3, rpID, origin, uvFlags)
	swapped.CredentialID = other.ID // the key signs; the entry names another credential
	if err := check(swapped); err == nil {
		t.Fatal("an assertion naming another credential passed")
	}
	reg.Observe(3, bot.ActionMFARevoked, entry("3", "yubikey", key))
	if err := check(key.Assert(challenge("r-1"), 3, rpID, origin, uvFlags)); err == nil || !strings.Contains(err.Error(), "removed before") {
		t.Fatalf("after revocation: %v", err)
	}
}

// TestCheckEntryRefusesAStaleChallenge: an approval recorded after its
// challenge expired (by a writer who skipped the live check) does not
// re-verify, though its signature holds.
func TestCheckEntryRefusesAStaleChallenge(t *testing.T) {
	key := webauthntest.New()
	entry := approvalEntry(t, key.Assert(challenge("r-1"), 3, rpID, origin, uvFlags), 3)
	expires := challenge("r-1").ExpiresAt
	if _, err := mfaproof.CheckEntry(nil, bot.ActionApprovalGranted, "r-1", expires.Add(-time.Second), entry); err != nil {
		t.Fatalf("recorded before the expiry: %v", err)
	}
	_, err := mfaproof.CheckEntry(nil, bot.ActionApprovalGranted, "r-1", expires, entry)
	if err == nil || !strings.Contains(err.Error(), "after the assertion's challenge expired") {
		t.Fatalf("recorded at the expiry: %v", err)
	}
}
