package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestUnauthenticatedRequestsRedirectToLogin(t *testing.T) {
	hs := newHarness(t)
	tests := []struct {
		name, path, wantNext string
	}{
		{"deployment page", "/deployments/" + testRequestID, "/deployments/" + testRequestID},
		{"audit page", "/audit", "/audit"},
		{"environments with a query", "/environments?x=1", "/environments?x=1"},
		{"unknown deployment still needs a login first", "/deployments/r-nothere", "/deployments/r-nothere"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := hs.browser(false).in(t).get(hs.srv.URL + tt.path)
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("status %d, want 302: %s", resp.StatusCode, body)
			}
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || loc.Path != "/login" || loc.Query().Get("next") != tt.wantNext {
				t.Errorf("Location %q, want /login?next=%s", resp.Header.Get("Location"), tt.wantNext)
			}
			mustNotContain(t, body, testSHA, "alice")
			checkSecurityHeaders(t, resp)
		})
	}
}

func TestLoginStartsOAuthWithStateAndPKCE(t *testing.T) {
	hs := newHarness(t)
	resp, _ := hs.browser(false).get(hs.srv.URL + "/login?next=/audit")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want a redirect to GitHub", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != hs.gh.URL()+"/login/oauth/authorize" {
		t.Errorf("authorize URL %s, want GitHub's web_url", got)
	}
	if q.Get("client_id") != hs.clientID || q.Get("redirect_uri") != hs.srv.URL+"/login/callback" {
		t.Errorf("client_id %q redirect_uri %q", q.Get("client_id"), q.Get("redirect_uri"))
	}
	if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("state")) < 40 {
		t.Errorf("want a S256 challenge and a long state, got %v", q)
	}
	var stateCookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == loginCookieName {
			stateCookie = c
		}
	}
	if stateCookie == nil || !strings.HasPrefix(stateCookie.Value, q.Get("state")+".") || !stateCookie.HttpOnly || stateCookie.SameSite != http.SameSiteLaxMode {
		t.Errorf("the flow must be bound to the browser by an HttpOnly SameSite=Lax cookie holding the state, got %+v", stateCookie)
	}
	if stateCookie != nil && strings.Contains(stateCookie.Value, "audit") {
		t.Errorf("the login cookie shows the flow in clear: %q", stateCookie.Value)
	}
	if strings.Contains(resp.Header.Get("Location"), hs.secret) {
		t.Error("the client secret went to the browser")
	}
}

func TestMemberSignsInAndLandsOnTheAskedPage(t *testing.T) {
	hs := newHarness(t)
	hs.gh.AuthorizeAs("alice")
	b := hs.browser(true)
	resp, body := b.get(hs.srv.URL + "/deployments/" + testRequestID)
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/deployments/"+testRequestID {
		t.Fatalf("ended at %s with %d", resp.Request.URL, resp.StatusCode)
	}
	mustContain(t, body, "@alice (member)", testSHA)
	var session *http.Cookie
	for _, r := range []*http.Response{resp} {
		for r != nil {
			for _, c := range r.Cookies() {
				if c.Name == sessionCookieName && c.Value != "" {
					session = c
				}
			}
			r = r.Request.Response
		}
	}
	if session == nil {
		t.Fatal("no session cookie was set")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.Secure {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, Path=/, not Secure over http", session)
	}
	if session.MaxAge != int((24 * time.Hour).Seconds()) {
		t.Errorf("session cookie MaxAge %d, want 24h", session.MaxAge)
	}
	if hs.h.sessions.len() != 1 {
		t.Errorf("%d sessions, want 1", hs.h.sessions.len())
	}
}

func TestAuditorsTeamMemberSignsInAsAuditor(t *testing.T) {
	hs := newHarness(t)
	_, body := hs.signIn("carol").get(hs.srv.URL + "/audit")
	mustContain(t, body, "@carol (auditor)")
}

func TestNonMemberIsRefused(t *testing.T) {
	hs := newHarness(t)
	hs.gh.AuthorizeAs("mallory")
	b := hs.browser(true)
	resp, body := b.get(hs.srv.URL + "/login?next=/audit")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %d, want 403: %s", resp.StatusCode, body)
	}
	mustContain(t, body, "@mallory is not an active member of the acme organisation")
	if n := hs.h.sessions.len(); n != 0 {
		t.Errorf("%d sessions after a refused login, want 0", n)
	}
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if resp, _ := b.get(hs.srv.URL + "/audit"); resp.StatusCode != http.StatusFound {
		t.Errorf("after a refused login /audit answered %d, want a redirect to the login", resp.StatusCode)
	}
}

func TestCallbackRefusesForeignOrReusedState(t *testing.T) {
	hs := newHarness(t)
	hs.gh.AuthorizeAs("alice")
	// Start a real flow without following, to get a valid state and code.
	start := hs.browser(false)
	resp, _ := start.get(hs.srv.URL + "/login?next=/audit")
	ghResp, _ := start.get(resp.Header.Get("Location"))
	callback := ghResp.Header.Get("Location")
	if !strings.HasPrefix(callback, hs.srv.URL+"/login/callback?") {
		t.Fatalf("fake GitHub redirected to %q", callback)
	}
	u, _ := url.Parse(callback)
	wrongState := *u
	q := wrongState.Query()
	q.Set("state", "attacker-chosen")
	wrongState.RawQuery = q.Encode()

	tests := []struct {
		name string
		b    *browser
		url  string
	}{
		{"another browser (no state cookie): login CSRF", hs.browser(false), callback},
		{"state not matching the cookie", start, wrongState.String()},
		{"no state at all", start, hs.srv.URL + "/login/callback?code=x"},
		{"GitHub reported an error", start, hs.srv.URL + "/login/callback?error=access_denied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := tt.b.in(t).get(tt.url)
			if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusForbidden {
				t.Errorf("status %d, want 400 or 403: %s", resp.StatusCode, body)
			}
			if n := hs.h.sessions.len(); n != 0 {
				t.Errorf("%d sessions, want 0", n)
			}
		})
	}
	// The refused attempts cleared this browser's state cookie: the flow
	// cannot be finished any more, sign-in starts again.
	if resp, _ := start.get(callback); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("reusing the flow answered %d, want 400", resp.StatusCode)
	}
}

func TestOpenRedirectAttemptsLandOnALocalPage(t *testing.T) {
	hs := newHarness(t)
	hs.gh.AuthorizeAs("alice")
	tests := []struct{ name, next string }{
		{"absolute URL", "https://evil.example/phish"},
		{"protocol-relative", "//evil.example/phish"},
		{"backslash trick", "/\\evil.example/phish"},
		{"scheme", "javascript:alert(1)"},
		{"relative without slash", "evil.example"},
		{"control character", "/\t/evil.example"},
		{"back to login (loop)", "/login?next=/audit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := hs.browser(true).in(t)
			resp, _ := b.get(hs.srv.URL + "/login?next=" + url.QueryEscape(tt.next))
			if got := resp.Request.URL; got.Host != strings.TrimPrefix(hs.srv.URL, "http://") || got.Path != "/environments" {
				t.Errorf("login with next=%q ended at %s, want /environments here", tt.next, got)
			}
		})
	}
	if got := safeNext("/deployments/r-abc?tab=1"); got != "/deployments/r-abc?tab=1" {
		t.Errorf("a local page is kept as next, got %q", got)
	}
}

func TestSessionsExpire(t *testing.T) {
	tests := []struct {
		name     string
		steps    []time.Duration // waits between page views, each must still work
		lastWait time.Duration
		wantLive bool
	}{
		{"used within the idle time", nil, 7 * time.Hour, true},
		{"idle for over 8 hours", nil, 8*time.Hour + time.Minute, false},
		{"active but past 24 hours", []time.Duration{7 * time.Hour, 7 * time.Hour, 7 * time.Hour}, 3*time.Hour + time.Minute, false},
		{"active and just under 24 hours", []time.Duration{7 * time.Hour, 7 * time.Hour, 7 * time.Hour}, 2 * time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t)
			b := hs.signIn("alice")
			b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			for _, d := range tt.steps {
				hs.clock.Advance(d)
				if resp, _ := b.get(hs.srv.URL + "/audit"); resp.StatusCode != http.StatusOK {
					t.Fatalf("page view after %v answered %d", d, resp.StatusCode)
				}
			}
			hs.clock.Advance(tt.lastWait)
			resp, _ := b.get(hs.srv.URL + "/audit")
			if live := resp.StatusCode == http.StatusOK; live != tt.wantLive {
				t.Fatalf("status %d (live %v), want live %v", resp.StatusCode, live, tt.wantLive)
			}
			if !tt.wantLive && !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
				t.Errorf("expired session redirected to %q, want the login", resp.Header.Get("Location"))
			}
		})
	}
}

func TestRemovedMemberLosesAccessAtTheNextRecheck(t *testing.T) {
	hs := newHarness(t)
	b := hs.signIn("alice")
	hs.gh.RemoveOrgMember(testOrg, "alice")
	if resp, _ := b.get(hs.srv.URL + "/audit"); resp.StatusCode != http.StatusOK {
		t.Fatalf("within the recheck period the page answered %d", resp.StatusCode)
	}
	hs.clock.Advance(11 * time.Minute)
	resp, body := b.get(hs.srv.URL + "/audit")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after the recheck period status %d, want 403", resp.StatusCode)
	}
	mustContain(t, body, "no longer has access")
	if n := hs.h.sessions.len(); n != 0 {
		t.Errorf("%d sessions, want the session ended", n)
	}
}

func TestExpiredGitHubTokenSendsToSignInAgain(t *testing.T) {
	hs := newHarness(t)
	b := hs.signIn("alice")
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hs.gh.ExpireTokens()
	hs.clock.Advance(11 * time.Minute)
	resp, _ := b.get(hs.srv.URL + "/audit?x=1")
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/login?next="+url.QueryEscape("/audit?x=1") {
		t.Fatalf("status %d Location %q, want a redirect to sign in again", resp.StatusCode, resp.Header.Get("Location"))
	}
	if n := hs.h.sessions.len(); n != 0 {
		t.Errorf("%d sessions, want the session ended", n)
	}
}

func TestRecheckFailsClosedWhenGitHubCannotAnswer(t *testing.T) {
	tests := []struct {
		name  string
		fault func(hs *harness)
	}{
		{"GitHub 502", func(hs *harness) { hs.gh.FailNext("GET", "/user/memberships/orgs/*", http.StatusBadGateway, 1) }},
		{"rate limited (a 403 that is not a refusal)", func(hs *harness) {
			hs.gh.RateLimitNext("GET", "/user/memberships/orgs/*", time.Minute, 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hs := newHarness(t)
			b := hs.signIn("alice")
			hs.clock.Advance(11 * time.Minute)
			tt.fault(hs)
			resp, body := b.get(hs.srv.URL + "/audit")
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503", resp.StatusCode)
			}
			mustNotContain(t, body, "Latest signed checkpoint")
			if resp, _ := b.get(hs.srv.URL + "/audit"); resp.StatusCode != http.StatusOK {
				t.Errorf("once GitHub answers again the session works: got %d", resp.StatusCode)
			}
		})
	}
}

func TestLogout(t *testing.T) {
	hs := newHarness(t)
	b := hs.signIn("alice")
	resp, _ := b.do(http.MethodPost, hs.srv.URL+"/logout", http.Header{"Origin": {"https://evil.example"}})
	if resp.StatusCode != http.StatusForbidden || hs.h.sessions.len() != 1 {
		t.Fatalf("cross-site logout answered %d with %d sessions, want 403 and the session kept", resp.StatusCode, hs.h.sessions.len())
	}
	resp, body := b.do(http.MethodPost, hs.srv.URL+"/logout", http.Header{"Origin": {hs.srv.URL}})
	if resp.StatusCode != http.StatusOK || hs.h.sessions.len() != 0 {
		t.Fatalf("logout answered %d with %d sessions left", resp.StatusCode, hs.h.sessions.len())
	}
	mustContain(t, body, "You are signed out")
	b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if resp, _ := b.get(hs.srv.URL + "/audit"); resp.StatusCode != http.StatusFound {
		t.Errorf("after logout /audit answered %d, want a redirect to the login", resp.StatusCode)
	}
}

func TestSecureCookiesOverHTTPS(t *testing.T) {
	hs := newHarness(t)
	h, err := New(Config{Requests: hs.svc, Audit: hs.st.Audit(), AuditEntries: hs.h.cfg.AuditEntries,
		Verification: hs.h.cfg.Verification, Environments: hs.h.cfg.Environments, OAuth: hs.h.cfg.OAuth,
		PublicURL: "https://tollgate.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	h.Register(mux)
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "https://tollgate.example.com/login?next=/audit", nil))
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != "__Host-tollgate_login" || !cookies[0].Secure {
		t.Errorf("cookies %+v, want one Secure __Host- cookie", cookies)
	}
	if rec.Header().Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS header over https")
	}
}

func TestNewNamesMissingConfig(t *testing.T) {
	_, err := New(Config{PublicURL: "ftp://x"})
	if err == nil || !strings.Contains(err.Error(), "Requests") || !strings.Contains(err.Error(), "OAuth.ClientSecret") {
		t.Errorf("New with an empty config: %v", err)
	}
}
