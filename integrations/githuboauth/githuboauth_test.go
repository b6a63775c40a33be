package githuboauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/integrations/githuboauth"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

const redirectURI = "https://tollgate.example.com/oauth/github/callback"

func newClient(t *testing.T) (*githubtest.Server, githuboauth.Client) {
	t.Helper()
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	id, secret := gh.AppOAuthClient()
	return gh, githuboauth.Client{WebURL: gh.URL(), APIURL: gh.APIURL(), ClientID: id, ClientSecret: secret, HTTPClient: gh.Client()}
}

// authorize runs GitHub's authorize step as login and returns the code the
// browser would bring back.
func authorize(t *testing.T, gh *githubtest.Server, c githuboauth.Client, login, verifier string) string {
	t.Helper()
	gh.AuthorizeAs(login)
	sum := sha256.Sum256([]byte(verifier))
	u := c.AuthorizeURL(url.Values{"client_id": {c.ClientID}, "redirect_uri": {redirectURI}, "state": {"s1"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}})
	hc := *gh.Client()
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := hc.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize answered %s with Location %q", resp.Status, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code")
}

func TestSignInReadsWhoTheUserIs(t *testing.T) {
	gh, c := newClient(t)
	ctx := context.Background()
	code := authorize(t, gh, c, "alice", "verifier-of-alice-0123456789012345678901234")
	token, err := c.ExchangeCode(ctx, code, "verifier-of-alice-0123456789012345678901234", redirectURI)
	if err != nil {
		t.Fatal(err)
	}
	user, err := c.AuthenticatedUser(ctx, token)
	if err != nil {
		t.Fatal(err)
	}
	if user.Login != "alice" || user.ID == 0 {
		t.Errorf("user = %+v, want alice with an id", user)
	}
}

func TestExchangeCodeRefusals(t *testing.T) {
	const verifier = "the-right-verifier-0123456789012345678901234"
	cases := []struct {
		name     string
		code     func(t *testing.T, gh *githubtest.Server, c githuboauth.Client) string
		verifier string
		redirect string
		secret   string
		want     string
	}{
		{name: "no code", code: func(*testing.T, *githubtest.Server, githuboauth.Client) string { return "" },
			verifier: verifier, redirect: redirectURI, want: "callback without a code"},
		{name: "unknown code", code: func(*testing.T, *githubtest.Server, githuboauth.Client) string { return "not-a-code" },
			verifier: verifier, redirect: redirectURI, want: "GitHub refused the OAuth code: bad_verification_code"},
		{name: "wrong PKCE verifier", code: func(t *testing.T, gh *githubtest.Server, c githuboauth.Client) string {
			return authorize(t, gh, c, "mallory", verifier)
		}, verifier: "another-verifier-0123456789012345678901234", redirect: redirectURI, want: "bad_verification_code"},
		{name: "other redirect URI", code: func(t *testing.T, gh *githubtest.Server, c githuboauth.Client) string {
			return authorize(t, gh, c, "mallory", verifier)
		}, verifier: verifier, redirect: "https://evil.example.com/cb", want: "redirect_uri_mismatch"},
		{name: "wrong client secret", code: func(t *testing.T, gh *githubtest.Server, c githuboauth.Client) string {
			return authorize(t, gh, c, "alice", verifier)
		}, verifier: verifier, redirect: redirectURI, secret: "not-the-secret", want: "incorrect_client_credentials"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gh, c := newClient(t)
			code := tc.code(t, gh, c)
			if tc.secret != "" {
				c.ClientSecret = tc.secret
			}
			token, err := c.ExchangeCode(context.Background(), code, tc.verifier, tc.redirect)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ExchangeCode = %q, %v; want an error with %q", token, err, tc.want)
			}
			if token != "" {
				t.Errorf("a refused exchange returned token %q", token)
			}
		})
	}
}

func TestAuthenticatedUserRefusesAnUnknownToken(t *testing.T) {
	gh, c := newClient(t)
	if _, err := c.AuthenticatedUser(context.Background(), gh.UserToken("bob")); err != nil {
		t.Fatalf("a token the fake minted: %v", err)
	}
	u, err := c.AuthenticatedUser(context.Background(), "ghu_not-a-token")
	if err == nil || !strings.Contains(err.Error(), "reading GET /user") || !strings.Contains(err.Error(), "401") {
		t.Fatalf("AuthenticatedUser(unknown token) = %+v, %v; want a 401 from GET /user", u, err)
	}
}
