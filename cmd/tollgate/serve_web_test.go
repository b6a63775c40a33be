package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"
)

// publicURLTransport sends requests for the configured public_url to the
// server's real listener, as a reverse proxy in front of it would, so a
// browser's cookie jar sees the https origin the server's cookies are for.
type publicURLTransport struct {
	public *url.URL
	addr   string
}

func (p publicURLTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host != p.public.Host {
		return http.DefaultTransport.RoundTrip(r)
	}
	proxied := r.Clone(r.Context())
	proxied.URL.Scheme, proxied.URL.Host, proxied.Host = "http", p.addr, ""
	resp, err := http.DefaultTransport.RoundTrip(proxied)
	if resp != nil {
		resp.Request = r // the browser saw the public URL
	}
	return resp, err
}

// browse opens public_url+path in a fresh browser (a cookie jar of its
// own) as login: the fake GitHub approves the OAuth sign-in as login at
// once. It returns the final status, body and URL.
func (e *e2e) browse(t *testing.T, login, path string) (int, string, *url.URL) {
	t.Helper()
	e.gh.AuthorizeAs(login)
	defer e.gh.AuthorizeAs("")
	public, err := url.Parse(e2ePublic)
	if err != nil {
		t.Fatal(err)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// With several replicas one browse goes through one of them: the web
	// sign-in's pending state lives in the replica that started it (issue
	// 10 moves it into a signed cookie). Sessions are shared: see
	// TestHAMergeDeploysStagingOnThreeReplicas.
	browser := &http.Client{Jar: jar, Transport: publicURLTransport{public: public, addr: e.target()}, Timeout: time.Minute}
	resp, err := browser.Get(e2ePublic + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Request.URL
}

// getNoRedirect fetches a path without following a redirect.
func (e *e2e) getNoRedirect(t *testing.T, path string) (int, http.Header, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(e.url(path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// Without the App's OAuth client the pages cannot have a login, so they
// are not served at all: each answers 503 saying which keys are missing,
// and serve warns at start. Nothing is shown unauthenticated.
func TestServeWithoutOAuthClientServesNoPages(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	e.start(t)
	for _, tc := range []struct {
		name, method, path string
	}{
		{"a deployment's log page", http.MethodGet, "/deployments/r-anything"},
		{"the audit log", http.MethodGet, "/audit"},
		{"the environments", http.MethodGet, "/environments"},
		{"the login", http.MethodGet, "/login?next=%2Faudit"},
		{"the login callback", http.MethodGet, "/login/callback?code=x&state=y"},
		{"signing out", http.MethodPost, "/logout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, e.url(tc.path), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(b), "need github.oauth_client_id and github.oauth_client_secret") {
				t.Errorf("%s %s: %d %q, want 503 naming the OAuth client keys", tc.method, tc.path, resp.StatusCode, b)
			}
		})
	}
	if !strings.Contains(e.stderr.String(), "web pages not served: github.oauth_client_id and github.oauth_client_secret are not set") {
		t.Errorf("serve did not warn that the pages are off:\n%s", e.stderr.String())
	}
}
