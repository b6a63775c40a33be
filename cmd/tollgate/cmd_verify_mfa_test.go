package main

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/webauthntest"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestVerifyReverifiesSecurityKeyAssertions(t *testing.T) {
	storetest.Run(t, testVerifyReverifiesSecurityKeyAssertions)
}

// testVerifyReverifiesSecurityKeyAssertions: tollgate verify re-verifies
// every recorded assertion offline. One recorded with a flipped byte (by a
// writer who did not verify it, or forged it) leaves the log's hashes
// intact, so only this check finds it: it names the entry and exits 1.
func testVerifyReverifiesSecurityKeyAssertions(t *testing.T) {
	ctx := context.Background()
	f := audittest.Build(t, 5, 4)
	key := webauthntest.New()
	registered := bot.AuditEvent{Actor: "carol", Action: bot.ActionMFARegistered, Subject: "carol", Data: map[string]any{
		"github_login": "carol", "github_id": 3, "name": "yubikey", "credential_id": base64.StdEncoding.EncodeToString(key.ID),
		"public_key": base64.StdEncoding.EncodeToString(key.PublicKey())}}
	approval := func(id string, flip bool) bot.AuditEvent {
		ch := bot.MFAChallenge{Purpose: bot.MFAApprove, RequestID: id, SHA: sha('c'), ConfigHash: "cfg", Nonce: "n",
			ExpiresAt: time.Date(2025, 3, 1, 10, 0, 0, 0, time.UTC)}
		p := key.Assert(ch, 3, "tollgate.example.com", "https://tollgate.example.com", webauthntest.UserPresent|webauthntest.UserVerified)
		if flip {
			p.AuthenticatorData[len(p.AuthenticatorData)-1] ^= 0x01
		}
		return bot.AuditEvent{Actor: "carol", Action: bot.ActionApprovalGranted, Subject: id,
			Data: map[string]any{"approver": "carol", "approver_id": 3, "sha": sha('c'), "config_hash": "cfg", "mfa": p}}
	}
	appendEvents := func(events ...bot.AuditEvent) {
		t.Helper()
		s, err := store.Open(ctx, f.Path, store.Options{Signer: f.Keys.Signer})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.AppendAudit(ctx, events...); err != nil {
			t.Fatal(err)
		}
	}
	appendEvents(registered, approval("r-good001", false), approval("r-good002", false))
	code, out, errOut := runCLI(t, "verify", "--database", f.Path, "--public-key", f.Keys.PublicKeyFile)
	if code != exitOK || !strings.Contains(out, "security keys:   2 recorded assertions re-verified") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// A flipped byte; and an assertion that verifies, with a key nobody
	// registered (a writer who made up the key and the assertion).
	flipped := approval("r-bad0001", true)
	key = webauthntest.New() // approval signs with the key it finds here
	appendEvents(flipped, approval("r-bad0002", false))
	code, out, errOut = runCLI(t, "verify", "--database", f.Path, "--public-key", f.Keys.PublicKeyFile)
	if code != exitCheckFailed || !strings.Contains(out, "security keys:   4 recorded assertions, 2 do not re-verify") ||
		!strings.Contains(out, "FAIL: entry 8 (approval.granted r-bad0001): the assertion does not verify") ||
		!strings.Contains(out, "FAIL: entry 9 (approval.granted r-bad0002): the assertion verifies, but its credential") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}
