package web

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/mfaproof"
	"github.com/tollgate-dev/tollgate/internal/webauthntest"
)

// pageScript is what a security key page hands its script.
type pageScript struct {
	Kind     string `json:"kind"`
	Ceremony string `json:"ceremony"`
	Finish   string `json:"finish"`
	Options  struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
			RPID      string `json:"rpId"`
			Rp        struct {
				ID string `json:"id"`
			} `json:"rp"`
			UserVerification       string `json:"userVerification"`
			AuthenticatorSelection struct {
				UserVerification string `json:"userVerification"`
			} `json:"authenticatorSelection"`
			Attestation string `json:"attestation"`
		} `json:"publicKey"`
	} `json:"options"`
}

func (p pageScript) challenge(t *testing.T) []byte {
	t.Helper()
	c, err := base64.RawURLEncoding.DecodeString(p.Options.PublicKey.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// open fetches a security key page and returns its script's data.
func (m *mfaHarness) open(t *testing.T, b *browser, url string) pageScript {
	t.Helper()
	resp, page := b.get(url)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, resp.StatusCode, page)
	}
	var ps pageScript
	if err := json.Unmarshal([]byte(scriptDataOf(t, page)), &ps); err != nil {
		t.Fatal(err)
	}
	return ps
}

// finish posts what the page's script would, from origin.
func (m *mfaHarness) finish(t *testing.T, b *browser, ps pageScript, origin string, body map[string]any) (int, outcome) {
	t.Helper()
	body["ceremony"] = ps.Ceremony
	data, _ := json.Marshal(body)
	req, err := http.NewRequest(http.MethodPost, m.public+ps.Finish, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out outcome
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("POST %s answered %d %q", ps.Finish, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

const uv = webauthntest.UserPresent | webauthntest.UserVerified

// registerKey registers a software key for login through the pages.
func (m *mfaHarness) registerKey(t *testing.T, b *browser, login, name string) *webauthntest.Authenticator {
	t.Helper()
	ps := m.open(t, b, m.registerLink(t, login))
	key := webauthntest.New()
	code, out := m.finish(t, b, ps, m.public, map[string]any{"name": name,
		"credential": json.RawMessage(key.Registration(ps.challenge(t), "localhost", m.public))})
	if code != http.StatusOK || !out.OK {
		t.Fatalf("registering %s's key: %d %+v", login, code, out)
	}
	return key
}

func TestMFARegisterThenApproveOverHTTP(t *testing.T) {
	m := newMFAHarness(t)
	carol := m.signIn(t, "carol")
	ps := m.open(t, carol, m.registerLink(t, "carol"))
	pk := ps.Options.PublicKey
	if ps.Kind != "create" || pk.Rp.ID != "localhost" || pk.AuthenticatorSelection.UserVerification != "required" ||
		(pk.Attestation != "" && pk.Attestation != "none") {
		t.Errorf("registration options: %+v", ps)
	}
	key := webauthntest.New()
	code, out := m.finish(t, carol, ps, m.public, map[string]any{"name": "yubikey",
		"credential": json.RawMessage(key.Registration(ps.challenge(t), "localhost", m.public))})
	if code != http.StatusOK || !out.OK || !strings.Contains(out.Message, "yubikey is registered") {
		t.Fatalf("registration: %d %+v", code, out)
	}
	if m.auditCount(t, bot.ActionMFARegistered, "carol") != 1 {
		t.Error("the registration was not audited")
	}

	r := m.request(t, "r-mfa0001")
	resp, page := carol.get(m.approveLink(r))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("approval page: %d\n%s", resp.StatusCode, page)
	}
	csp := resp.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "script-src 'self' 'unsafe") ||
		strings.Contains(page, "<script>") || !strings.Contains(page, `<script src="/mfa/mfa.js" defer></script>`) {
		t.Errorf("the page's script policy: CSP %q", csp)
	}
	mustContain(t, page, testRepo, "production", testSHA, "#42 Faster checkout by dave", `id="requester">alice<`, r.ConfigHash)
	var aps pageScript
	if err := json.Unmarshal([]byte(scriptDataOf(t, page)), &aps); err != nil {
		t.Fatal(err)
	}
	if aps.Options.PublicKey.UserVerification != "required" || aps.Options.PublicKey.RPID != "localhost" || len(aps.challenge(t)) != 32 {
		t.Errorf("assertion options: %+v", aps.Options.PublicKey)
	}
	code, out = m.finish(t, carol, aps, m.public, map[string]any{
		"credential": json.RawMessage(key.AssertionJSON(aps.challenge(t), "localhost", m.public, uv))})
	if code != http.StatusOK || !out.OK || out.Next != "/deployments/"+r.ID {
		t.Fatalf("approval: %d %+v", code, out)
	}
	if as := m.approvals(t, r.ID); len(as) != 1 || as[0].Approver.Login != "carol" {
		t.Fatalf("approvals %+v", as)
	}
	var data []byte
	if err := m.st.DB().QueryRow(`SELECT data FROM audit_entries WHERE action = ? AND subject = ?`,
		bot.ActionApprovalGranted, r.ID).Scan(&data); err != nil {
		t.Fatal(err)
	}
	if carried, err := mfaproof.CheckEntry(nil, bot.ActionApprovalGranted, r.ID, time.Time{}, data); !carried || err != nil {
		t.Errorf("the recorded assertion re-verifies offline: carried %v, %v", carried, err)
	}
}

func TestMFAPagesRefuse(t *testing.T) {
	m := newMFAHarness(t)
	bob, carol := m.signIn(t, "bob"), m.signIn(t, "carol")
	carolKey := m.registerKey(t, carol, "carol", "yubikey")
	m.registerKey(t, bob, "bob", "bobs-key")
	r := m.request(t, "r-mfa0002")
	assertion := func(ps pageScript, key *webauthntest.Authenticator, flags byte) map[string]any {
		return map[string]any{"credential": json.RawMessage(key.AssertionJSON(ps.challenge(t), "localhost", m.public, flags))}
	}

	t.Run("someone else's registration link", func(t *testing.T) {
		resp, page := bob.get(m.registerLink(t, "carol"))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "linked to GitHub user carol, and you are signed in as bob") {
			t.Fatalf("%d\n%s", resp.StatusCode, page)
		}
	})
	t.Run("a registration link used twice", func(t *testing.T) {
		link := m.registerLink(t, "carol")
		m.open(t, carol, link)
		if resp, page := carol.get(link); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "already used") {
			t.Fatalf("%d\n%s", resp.StatusCode, page)
		}
	})
	t.Run("an approval link with a forged token", func(t *testing.T) {
		if resp, _ := carol.get(m.public + PathMFAApprove + r.ID + "?t=00112233"); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
	t.Run("a post from another site", func(t *testing.T) {
		ps := m.open(t, carol, m.approveLink(r))
		if code, out := m.finish(t, carol, ps, "https://evil.example", assertion(ps, carolKey, uv)); code != http.StatusForbidden || out.OK {
			t.Fatalf("%d %+v", code, out)
		}
	})
	t.Run("an assertion without user verification", func(t *testing.T) {
		ps := m.open(t, carol, m.approveLink(r))
		code, out := m.finish(t, carol, ps, m.public, assertion(ps, carolKey, webauthntest.UserPresent))
		if code != http.StatusForbidden || !strings.Contains(out.Message, "does not verify") {
			t.Fatalf("%d %+v", code, out)
		}
	})
	t.Run("a stale challenge", func(t *testing.T) {
		ps := m.open(t, carol, m.approveLink(r))
		m.clock.Advance(3 * time.Minute)
		code, out := m.finish(t, carol, ps, m.public, assertion(ps, carolKey, uv))
		if code != http.StatusForbidden || !strings.Contains(out.Message, "expired") {
			t.Fatalf("%d %+v", code, out)
		}
	})
	t.Run("a ceremony finished by someone else", func(t *testing.T) {
		ps := m.open(t, carol, m.approveLink(r))
		code, out := m.finish(t, bob, ps, m.public, assertion(ps, carolKey, uv))
		if code != http.StatusForbidden || !strings.Contains(out.Message, "issued to someone else") {
			t.Fatalf("%d %+v", code, out)
		}
	})
	t.Run("another person's key", func(t *testing.T) {
		ps := m.open(t, bob, m.approveLink(r))
		code, out := m.finish(t, bob, ps, m.public, assertion(ps, carolKey, uv))
		if code != http.StatusForbidden || !strings.Contains(out.Message, "does not verify") {
			t.Fatalf("%d %+v", code, out)
		}
	})
	t.Run("a replayed answer", func(t *testing.T) {
		ps := m.open(t, carol, m.approveLink(r))
		answer := assertion(ps, carolKey, uv)
		next := m.open(t, carol, m.approveLink(r))
		code, out := m.finish(t, carol, next, m.public, answer) // signed over the first page's challenge
		if code != http.StatusForbidden || !strings.Contains(out.Message, "does not verify") {
			t.Fatalf("%d %+v", code, out)
		}
	})
	if as := m.approvals(t, r.ID); len(as) != 0 {
		t.Fatalf("after the refusals: approvals %+v", as)
	}
	if n := m.auditCount(t, bot.ActionApprovalRefused, r.ID); n != 5 {
		t.Errorf("%d refused approvals audited, want 5", n)
	}
}
