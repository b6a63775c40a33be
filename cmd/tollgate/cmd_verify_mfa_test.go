package main

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/webauthntest"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// mfaLog is an audit log with carol's registered key, to which tests
// append approvals carrying assertions: genuine, with a flipped byte, or
// signed by a key nobody registered.
type mfaLog struct {
	t   *testing.T
	f   audittest.Fixture
	key *webauthntest.Authenticator // carol's registered key
}

func newMFALog(t *testing.T, registeredAt time.Time) *mfaLog {
	l := &mfaLog{t: t, f: audittest.Build(t, 5, 4), key: webauthntest.New()}
	l.append(registeredAt, bot.AuditEvent{Actor: "carol", Action: bot.ActionMFARegistered, Subject: "carol", Data: map[string]any{
		"github_login": "carol", "github_id": 3, "name": "yubikey", "credential_id": base64.StdEncoding.EncodeToString(l.key.ID),
		"public_key": base64.StdEncoding.EncodeToString(l.key.PublicKey())}})
	return l
}

// approve records, at at, carol's approval of request id signed by key
// over a challenge that expires expiresIn after at; flip changes one byte
// of the authenticator data after signing.
func (l *mfaLog) approve(at time.Time, id string, key *webauthntest.Authenticator, flip bool, expiresIn time.Duration) {
	l.t.Helper()
	ch := bot.MFAChallenge{Purpose: bot.MFAApprove, RequestID: id, SHA: sha('c'), ConfigHash: "cfg", Nonce: "n-" + id,
		ExpiresAt: at.Add(expiresIn)}
	p := key.Assert(ch, 3, "tollgate.example.com", "https://tollgate.example.com", webauthntest.UserPresent|webauthntest.UserVerified)
	if flip {
		p.AuthenticatorData[len(p.AuthenticatorData)-1] ^= 0x01
	}
	l.append(at, bot.AuditEvent{Actor: "carol", Action: bot.ActionApprovalGranted, Subject: id,
		Data: map[string]any{"approver": "carol", "approver_id": 3, "sha": sha('c'), "config_hash": "cfg", "mfa": p}})
}

// append records events at the time at.
func (l *mfaLog) append(at time.Time, events ...bot.AuditEvent) {
	l.t.Helper()
	s, err := store.Open(context.Background(), l.f.Path, store.Options{Signer: l.f.Keys.Signer, Now: func() time.Time { return at }})
	if err != nil {
		l.t.Fatal(err)
	}
	defer s.Close()
	if err := s.AppendAudit(context.Background(), events...); err != nil {
		l.t.Fatal(err)
	}
}

func TestVerifyReverifiesSecurityKeyAssertions(t *testing.T) {
	storetest.Run(t, testVerifyReverifiesSecurityKeyAssertions)
}

// testVerifyReverifiesSecurityKeyAssertions: tollgate verify re-verifies
// every recorded assertion offline. One recorded with a flipped byte (by a
// writer who did not verify it, or forged it) leaves the log's hashes
// intact, so only this check finds it: it names the entry and exits 1.
func testVerifyReverifiesSecurityKeyAssertions(t *testing.T) {
	at := time.Date(2025, 3, 2, 12, 0, 0, 0, time.UTC)
	l := newMFALog(t, at)
	l.approve(at.Add(time.Hour), "r-good001", l.key, false, 5*time.Minute)
	l.approve(at.Add(2*time.Hour), "r-good002", l.key, false, 5*time.Minute)
	code, out, errOut := runCLI(t, "verify", "--database", l.f.Path, "--public-key", l.f.Keys.PublicKeyFile)
	if code != exitOK || !strings.Contains(out, "security keys:   2 recorded assertions re-verified") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	// A flipped byte; an assertion that verifies, with a key nobody
	// registered (a writer who made up the key and the assertion); and one
	// recorded after its challenge expired.
	l.approve(at.Add(3*time.Hour), "r-bad0001", l.key, true, 5*time.Minute)
	l.approve(at.Add(4*time.Hour), "r-bad0002", webauthntest.New(), false, 5*time.Minute)
	l.approve(at.Add(5*time.Hour), "r-bad0003", l.key, false, -time.Second)
	code, out, errOut = runCLI(t, "verify", "--database", l.f.Path, "--public-key", l.f.Keys.PublicKeyFile)
	if code != exitCheckFailed || !strings.Contains(out, "security keys:   5 recorded assertions, 3 do not re-verify") ||
		!strings.Contains(out, "FAIL: entry 8 (approval.granted r-bad0001): the assertion does not verify") ||
		!strings.Contains(out, "FAIL: entry 9 (approval.granted r-bad0002): the assertion verifies, but its credential") ||
		!strings.Contains(out, "FAIL: entry 10 (approval.granted r-bad0003): the entry was recorded at 2025-03-02T17:00:00Z, after the assertion's challenge expired") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}

// TestEvidenceVerifyReverifiesSecurityKeyAssertions: the auditor, holding
// only the pack and the audit public key, re-verifies every assertion in
// audit.jsonl with `tollgate evidence verify`, against the key carol
// registered before the pack's range (carried with its inclusion proof in
// mfa_credentials/). The pack of a range with a flipped byte, or with an
// assertion by a key nobody registered, fails, naming the entries.
func TestEvidenceVerifyReverifiesSecurityKeyAssertions(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2025, 3, d, 12, 0, 0, 0, time.UTC) }
	l := newMFALog(t, day(2))
	l.approve(day(4), "r-good001", l.key, false, 5*time.Minute)
	l.approve(day(5), "r-bad0001", l.key, true, 5*time.Minute)
	l.approve(day(5).Add(time.Minute), "r-bad0002", webauthntest.New(), false, 5*time.Minute)
	pack := func(to int) string { // the range is day 4 up to and including day to
		t.Helper()
		dir := filepath.Join(t.TempDir(), "pack")
		code, out, errOut := runCLI(t, "evidence", "--database", l.f.Path, "--signing-key", l.f.Keys.PrivateKeyFile,
			"--from", dayArg(day(4)), "--to", dayArg(day(to)), "--out", dir)
		if code != exitOK {
			t.Fatalf("tollgate evidence: exit %d\n%s%s", code, out, errOut)
		}
		return dir
	}

	good := pack(4)
	proofs, err := os.ReadDir(filepath.Join(good, "mfa_credentials"))
	if err != nil || len(proofs) != 1 || !strings.HasSuffix(proofs[0].Name(), "-mfa.registered.proof") {
		t.Fatalf("mfa_credentials: %v, %v", proofs, err)
	}
	code, out, errOut := runCLI(t, "evidence", "verify", good, "--public-key", l.f.Keys.PublicKeyFile)
	if code != exitOK || !strings.Contains(out,
		"OK: security keys: 1 recorded assertions in audit.jsonl re-verified (1 key registrations before the range, proven)") {
		t.Fatalf("evidence verify of the genuine approval: exit %d\n%s%s", code, out, errOut)
	}

	bad := pack(5)
	code, out, errOut = runCLI(t, "evidence", "verify", bad, "--public-key", l.f.Keys.PublicKeyFile)
	if code != exitCheckFailed || !strings.Contains(out, "security keys: 3 recorded assertions in audit.jsonl, 2 do not re-verify") ||
		!strings.Contains(out, "FAIL: audit.jsonl entry 7 (approval.granted r-bad0001): the assertion does not verify") ||
		!strings.Contains(out, "FAIL: audit.jsonl entry 8 (approval.granted r-bad0002): the assertion verifies, but its credential") {
		t.Fatalf("evidence verify of the flipped byte and the unregistered key: exit %d\n%s%s", code, out, errOut)
	}
}
