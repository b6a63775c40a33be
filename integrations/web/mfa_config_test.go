package web

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/webauthntest"
)

// TestMFARegistrationHonoursTheAAGUIDAllowList: with
// webauthn.allowed_aaguids set, a key of another model is refused, and so
// is one that reports no model (the zero AAGUID, which go-webauthn's own
// filter lets through); a listed model registers.
func TestMFARegistrationHonoursTheAAGUIDAllowList(t *testing.T) {
	const listed = "cb69481e-8ff7-4039-93ec-0a2729a154a8"
	m := newMFAHarness(t, func(c *MFAConfig) { c.AllowedAAGUIDs = []string{listed} })
	carol := m.signIn(t, "carol")
	other := webauthntest.New()
	other.AAGUID = [16]byte{0xee, 0x88, 0x28, 0x79, 0x72, 0x1c, 0x49, 0x13, 0x97, 0x75, 0x3d, 0xfc, 0xce, 0x97, 0x07, 0x2a}
	good := webauthntest.New()
	good.AAGUID = [16]byte{0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39, 0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8}
	tests := []struct {
		name string
		key  *webauthntest.Authenticator
		want string
	}{
		{"a model not on the list", other, "AAGUID ee882879-721c-4913-9775-3dfcce97072a) is not on the list"},
		{"a key reporting no model", webauthntest.New(), "AAGUID none) is not on the list"},
		{"a listed model", good, "is registered"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := m.open(t, carol, m.registerLink(t, "carol"))
			_, out := m.finish(t, carol, ps, m.public, map[string]any{"name": "key-" + strings.Fields(tt.name)[1],
				"credential": json.RawMessage(tt.key.Registration(ps.challenge(t), "localhost", m.public))})
			if !strings.Contains(out.Message, tt.want) {
				t.Fatalf("%+v, want a message containing %q", out, tt.want)
			}
		})
	}
	if cs, _ := m.svc.MFACredentials(t.Context(), m.gh.UserID("carol")); len(cs) != 1 {
		t.Errorf("carol has %d keys, want the listed model's only", len(cs))
	}
}

// TestMFAPagesOnAnIPAddressSayWhy: a relying party is a domain, so an
// install reached by IP address still serves its pages, and the security
// key pages answer 503 saying why (config refuses environments that
// require keys on such a public_url).
func TestMFAPagesOnAnIPAddressSayWhy(t *testing.T) {
	hs := newHarness(t)
	cfg := hs.h.cfg
	cfg.MFA = &MFAConfig{Service: nil, States: hs.st}
	if _, err := New(cfg); err == nil {
		t.Fatal("New accepted MFA without its service")
	}
	m := newMFAHarness(t)
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	cfg.MFA, cfg.PublicURL = &MFAConfig{Service: m.svc, States: hs.st}, srv.URL // http://127.0.0.1:PORT
	h, err := New(cfg)
	if err != nil {
		t.Fatalf("New with an IP address public URL: %v", err)
	}
	h.Register(mux)
	hs.gh.AuthorizeAs("carol")
	resp, page := hs.browser(true).in(t).get(srv.URL + PathMFARegister + "?t=x")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "is an IP address") {
		t.Fatalf("%d\n%s", resp.StatusCode, page)
	}
}
