package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSignInStartedOnOneReplicaFinishesOnAnother: behind a load balancer
// the browser's /login reaches one replica and GitHub's redirect to
// /login/callback another; the second finishes the sign-in from the
// sealed login cookie alone, and the session works on the first (fails
// before this change: the started sign-in lived in the first replica's
// memory, and the second answered "Sign-in expired").
func TestSignInStartedOnOneReplicaFinishesOnAnother(t *testing.T) {
	shared := NewMemorySessions() // the database both replicas share
	var cfg Config
	hs := newHarness(t, func(c *Config) { c.Sessions = shared; cfg = *c })
	other, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	otherMux := http.NewServeMux()
	other.Register(otherMux)

	hs.gh.AuthorizeAs("alice")
	b := hs.browser(false)
	resp, _ := b.get(hs.srv.URL + "/login?next=/audit")
	ghResp, _ := b.get(resp.Header.Get("Location"))
	callback := ghResp.Header.Get("Location")
	if !strings.HasPrefix(callback, hs.srv.URL+"/login/callback?") {
		t.Fatalf("fake GitHub redirected to %q", callback)
	}
	req := httptest.NewRequest(http.MethodGet, callback, nil)
	site, _ := url.Parse(hs.srv.URL)
	for _, c := range b.c.Jar.Cookies(site) {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	otherMux.ServeHTTP(rec, req)
	if rec.Code != http.StatusFound || rec.Header().Get("Location") != "/audit" {
		t.Fatalf("callback on the other replica: %d to %q, want 302 to /audit\n%s", rec.Code, rec.Header().Get("Location"), rec.Body)
	}
	var session *http.Cookie
	for _, c := range rec.Result().Cookies() {
		if c.Name == sessionCookieName && c.Value != "" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("the other replica set no session cookie")
	}
	b.c.Jar.SetCookies(site, []*http.Cookie{session})
	if resp, body := b.get(hs.srv.URL + "/audit"); resp.StatusCode != http.StatusOK || !strings.Contains(body, "@alice (member)") {
		t.Errorf("the first replica with the other's session: %d\n%s", resp.StatusCode, body)
	}
}

// TestLoginCookieIsBoundToItsState: a login cookie opens only for the state
// it was sealed with, not after its expiry, and not when altered.
func TestLoginCookieIsBoundToItsState(t *testing.T) {
	s, err := newSealer("client-secret", sealLoginFlow)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	v, err := s.loginCookieValue("state-a", pendingLogin{verifier: "v", next: "/audit", expires: now.Add(loginTTL)})
	if err != nil {
		t.Fatal(err)
	}
	if l, err := s.openLoginCookie(v, "state-a", now); err != nil || l.verifier != "v" || l.next != "/audit" {
		t.Fatalf("open: %+v, %v", l, err)
	}
	other, _ := newSealer("another-secret", sealLoginFlow)
	session, _ := newSealer("client-secret", sealSessionToken)
	_, sealed, _ := strings.Cut(v, ".")
	flipped := []byte(v)
	flipped[len(flipped)-3] ^= 1
	tests := []struct {
		name  string
		s     sealer
		value string
		state string
		after time.Duration // from now
	}{
		{"another state", s, v, "state-b", 0},
		{"its sealed part moved to another state", s, "state-b." + sealed, "state-b", 0},
		{"expired", s, v, "state-a", loginTTL},
		{"altered", s, string(flipped), "state-a", 0},
		{"sealed by another install", other, v, "state-a", 0},
		{"the session tokens' key", session, v, "state-a", 0},
		{"no cookie", s, "", "state-a", 0},
		{"no state", s, v, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if l, err := tt.s.openLoginCookie(tt.value, tt.state, now.Add(tt.after)); err == nil {
				t.Errorf("opened %+v", l)
			}
		})
	}
}
