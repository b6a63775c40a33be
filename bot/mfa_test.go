package bot_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

const (
	testRPID   = "tollgate.example.com"
	testOrigin = "https://tollgate.example.com"
)

// key is a registered credential of a test person.
func key(name string, id byte) bot.MFACredential {
	return bot.MFACredential{Name: name, ID: []byte{'k', id}, PublicKey: []byte{0xa5, 0x01, id}, AAGUID: make([]byte, 16),
		AttestationFormat: "none"}
}

// assertion is what an authenticator holding c signs over ch: bot checks
// the binding, not the signature (the ceremony verified it; the offline
// verifier re-verifies it), so the signature here is a placeholder.
type assertion struct {
	ch        bot.MFAChallenge
	by        bot.Identity
	c         bot.MFACredential
	flags     byte
	count     uint32
	challenge []byte // what the client data says was signed; ch.Digest() when nil
	rpID      string
}

func (a assertion) proof() *bot.MFAProof {
	if a.flags == 0 {
		a.flags = 0x05 // user present and verified
	}
	if a.challenge == nil {
		a.challenge = a.ch.Digest()
	}
	if a.rpID == "" {
		a.rpID = testRPID
	}
	rp := sha256.Sum256([]byte(a.rpID))
	auth := append(append(rp[:], a.flags), binary.BigEndian.AppendUint32(nil, a.count)...)
	cd, _ := json.Marshal(map[string]any{"type": "webauthn.get", "origin": testOrigin,
		"challenge": base64.RawURLEncoding.EncodeToString(a.challenge)})
	return &bot.MFAProof{Challenge: a.ch, GitHubID: a.by.GitHubID, CredentialID: a.c.ID, CredentialName: a.c.Name,
		PublicKey: a.c.PublicKey, AuthenticatorData: auth, ClientDataJSON: cd, Signature: []byte("sig"),
		RPID: testRPID, Origin: testOrigin, SignCount: a.count}
}

// fresh binds ch to a nonce and an expiry two minutes after now.
func fresh(ch bot.MFAChallenge, now time.Time) bot.MFAChallenge {
	ch.Nonce, ch.ExpiresAt = "nonce-"+now.Format(time.RFC3339Nano), now.Add(2*time.Minute)
	return ch
}

func register(t *testing.T, svc *bot.Service, who bot.Identity, c bot.MFACredential) bot.MFACredential {
	t.Helper()
	if err := svc.RegisterMFACredential(context.Background(), who, c); err != nil {
		t.Fatalf("registering %s's %s: %v", who.Login, c.Name, err)
	}
	c.GitHubID = who.GitHubID
	return c
}

func TestApprovalNeedsAFreshAssertionOverThisRequest(t *testing.T) {
	storetest.Run(t, testApprovalNeedsAFreshAssertionOverThisRequest)
}

func testApprovalNeedsAFreshAssertionOverThisRequest(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.policies["acme/shop"]["production"].ApprovalsRequireWebAuthn = true
	carolKey := register(t, w.svc, carol, key("yubikey", 3))
	daveKey := register(t, w.svc, dave, key("passkey", 4))
	aliceKey := register(t, w.svc, alice, key("laptop", 1))

	r := w.submit(t, "slack:mfa-1", bot.NewRequest{}).Request
	other := w.submit(t, "slack:mfa-2", bot.NewRequest{}).Request
	if c, ok := r.Decision.Check(bot.CheckApprovalMFA); !ok || c.Outcome != bot.OutcomePass {
		t.Errorf("the decision does not record that approvals need a security key: %+v", r.Decision.Checks)
	}
	if !w.svc.ApprovalNeedsMFA(r) {
		t.Error("ApprovalNeedsMFA is false for production")
	}
	now := w.clock.Now()
	good := func() assertion {
		return assertion{ch: fresh(bot.ApprovalChallenge(r), now), by: carol, c: carolKey, count: 5}
	}
	forOther := good()
	forOther.ch = fresh(bot.ApprovalChallenge(other), now)
	otherSHA := good()
	otherSHA.ch.SHA = strings.Repeat("9", 40)
	noUV := good()
	noUV.flags = 0x01
	wrongChallenge := good()
	wrongChallenge.challenge = forOther.ch.Digest()
	otherRP := good()
	otherRP.rpID = "evil.example"
	davesKey := good()
	davesKey.c = daveKey
	claimsCarol := davesKey.proof()
	daveProof := davesKey
	daveProof.by = dave
	swappedKey := good().proof()
	swappedKey.PublicKey = daveKey.PublicKey
	aliceOwn := assertion{ch: fresh(bot.ApprovalChallenge(r), now), by: alice, c: aliceKey, count: 1}

	refusals := []struct {
		name   string
		who    bot.Identity
		proof  *bot.MFAProof
		code   bot.RefusalCode
		reason string
	}{
		{"no assertion (a plain Slack click)", carol, nil, bot.CodeMFARequired, "needs a security key"},
		{"an assertion over another request", carol, forOther.proof(), bot.CodeMFAInvalid, "made for something else"},
		{"an assertion over another SHA", carol, otherSHA.proof(), bot.CodeMFAInvalid, "made for something else"},
		{"client data signed over another challenge", carol, wrongChallenge.proof(), bot.CodeMFAInvalid, "signed challenge is not the one"},
		{"user verification missing", carol, noUV.proof(), bot.CodeMFAInvalid, "did not verify the user"},
		{"signed for another relying party", carol, otherRP.proof(), bot.CodeMFAInvalid, "another relying party"},
		{"another person's key, claimed as carol's", carol, claimsCarol, bot.CodeMFAInvalid, "registered to someone else"},
		{"another person's assertion", carol, daveProof.proof(), bot.CodeMFAInvalid, "not carol's"},
		{"a public key other than the registered one", carol, swappedKey, bot.CodeMFAInvalid, "not the one registered"},
		{"the requester, with her own key", alice, aliceOwn.proof(), bot.CodeSelfApproval, "you requested this deploy"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: r.ID, Approver: tt.who, MFA: tt.proof})
			wantRefusal(t, err, tt.code, tt.reason)
		})
	}
	t.Run("a stale challenge", func(t *testing.T) {
		w.clock.Advance(3 * time.Minute)
		defer w.clock.Advance(-3 * time.Minute)
		_, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: r.ID, Approver: carol, MFA: good().proof()})
		wantRefusal(t, err, bot.CodeMFAInvalid, "challenge expired")
	})
	if cur, _ := w.svc.Request(ctx, r.ID); len(cur.Approvals) != 0 || cur.State != bot.StateAwaitingApproval {
		t.Fatalf("after the refusals the request is %s with %d approvals", cur.State, len(cur.Approvals))
	}
	if got := len(w.auditData(t, r.ID, bot.ActionApprovalRefused)); got != len(refusals)+1 {
		t.Errorf("%d refusals audited, want %d", got, len(refusals)+1)
	}

	approved, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: r.ID, Approver: carol, MFA: good().proof()})
	if err != nil {
		t.Fatalf("carol's approval with her key: %v", err)
	}
	if approved.State != bot.StateQueued {
		t.Fatalf("after a valid approval the request is %s", approved.State)
	}
	data := w.auditData(t, r.ID, bot.ActionApprovalGranted)
	if len(data) != 1 || !strings.Contains(data[0], `"credential_id":"awM="`) || !strings.Contains(data[0], `"client_data_json":`) ||
		!strings.Contains(data[0], `"authenticator_data":`) || !strings.Contains(data[0], `"public_key":"pQED"`) {
		t.Errorf("approval.granted does not carry the assertion: %v", data)
	}
	if cs, _ := w.svc.MFACredentials(ctx, carol.GitHubID); len(cs) != 1 || cs[0].SignCount != 5 || cs[0].LastUsedAt.IsZero() {
		t.Errorf("carol's key after use: %+v", cs)
	}

	// The same key replaying an older counter is refused on the next request.
	_, err = w.svc.Approve(ctx, bot.ApproveInput{RequestID: other.ID, Approver: carol,
		MFA: assertion{ch: fresh(bot.ApprovalChallenge(other), now), by: carol, c: carolKey, count: 5}.proof()})
	wantRefusal(t, err, bot.CodeMFAInvalid, "counter went back")
}

func TestApprovalWithoutMFAPolicyIgnoresNoProof(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	r := w.submit(t, "slack:plain", bot.NewRequest{}).Request
	if _, ok := r.Decision.Check(bot.CheckApprovalMFA); ok {
		t.Error("a policy without require_webauthn records an approval_mfa check")
	}
	if _, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: r.ID, Approver: carol}); err != nil {
		t.Fatalf("an approval without a security key where none is required: %v", err)
	}
}

func TestMFAPolicyChangesTheHash(t *testing.T) {
	p := prodPolicy()
	before := p.Hash()
	p.ApprovalsRequireWebAuthn = true
	approvals := p.Hash()
	p.ApprovalsRequireWebAuthn, p.EmergencyRequireWebAuthn = false, true
	if approvals == before || p.Hash() == before || p.Hash() == approvals {
		t.Error("require_webauthn does not change the policy hash, so an approval given without it would count under it")
	}
}

func TestChallengeDigestBindsEveryField(t *testing.T) {
	base := bot.MFAChallenge{Purpose: bot.MFAApprove, RequestID: "r-1", SHA: shaMain, ConfigHash: "cfg", Nonce: "n",
		ExpiresAt: t0}
	seen := map[string]string{string(base.Digest()): "base"}
	for name, change := range map[string]func(c *bot.MFAChallenge){
		"purpose": func(c *bot.MFAChallenge) { c.Purpose = bot.MFAEmergencyReview },
		"request": func(c *bot.MFAChallenge) { c.RequestID = "r-2" },
		"sha":     func(c *bot.MFAChallenge) { c.SHA = shaHead },
		"config":  func(c *bot.MFAChallenge) { c.ConfigHash = "cfg2" },
		"detail":  func(c *bot.MFAChallenge) { c.Detail = "x" },
		"nonce":   func(c *bot.MFAChallenge) { c.Nonce = "m" },
		"expiry":  func(c *bot.MFAChallenge) { c.ExpiresAt = t0.Add(time.Nanosecond) },
		"shifted": func(c *bot.MFAChallenge) { c.RequestID, c.SHA = "r-1"+shaMain[:1], shaMain[1:] },
	} {
		c := base
		change(&c)
		d := string(c.Digest())
		if prev, dup := seen[d]; dup {
			t.Errorf("changing %s gives the digest of %s", name, prev)
		}
		seen[d] = name
	}
}
