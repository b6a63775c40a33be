package oauth_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/internal/oauth"
)

const redirectURI = "https://tollgate.example.com/oauth/github/callback"

func newClient(t *testing.T) (*githubtest.Server, oauth.GitHub) {
	t.Helper()
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	id, secret := gh.AppOAuthClient()
	return gh, oauth.GitHub{WebURL: gh.URL(), APIURL: gh.APIURL(), ClientID: id, ClientSecret: secret, HTTPClient: gh.Client()}
}

// authorize runs GitHub's authorize step as login and returns the code the
// browser would bring back.
func authorize(t *testing.T, gh *githubtest.Server, c oauth.GitHub, login string) (code, verifier string) {
	t.Helper()
	gh.AuthorizeAs(login)
	f := c.Start(redirectURI, nil, nil)
	u := f.URL
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
	if loc.Query().Get("state") != f.State {
		t.Fatalf("authorize returned state %q, want the flow's %q", loc.Query().Get("state"), f.State)
	}
	return loc.Query().Get("code"), f.Verifier
}

func TestSignInReadsWhoTheUserIs(t *testing.T) {
	gh, c := newClient(t)
	ctx := context.Background()
	code, verifier := authorize(t, gh, c, "alice")
	token, err := c.Exchange(ctx, code, verifier, redirectURI)
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
	cases := []struct {
		name     string
		code     func(t *testing.T, gh *githubtest.Server, c oauth.GitHub) (code, verifier string)
		verifier string // "" means the flow's own
		redirect string
		secret   string
		want     string
	}{
		{name: "no code", code: func(*testing.T, *githubtest.Server, oauth.GitHub) (string, string) { return "", "v" },
			redirect: redirectURI, want: "callback without a code"},
		{name: "unknown code", code: func(*testing.T, *githubtest.Server, oauth.GitHub) (string, string) { return "not-a-code", "v" },
			redirect: redirectURI, want: "GitHub refused the OAuth code: bad_verification_code"},
		{name: "wrong PKCE verifier", code: func(t *testing.T, gh *githubtest.Server, c oauth.GitHub) (string, string) {
			return authorize(t, gh, c, "mallory")
		}, verifier: "another-verifier-0123456789012345678901234", redirect: redirectURI, want: "bad_verification_code"},
		{name: "other redirect URI", code: func(t *testing.T, gh *githubtest.Server, c oauth.GitHub) (string, string) {
			return authorize(t, gh, c, "mallory")
		}, redirect: "https://evil.example.com/cb", want: "redirect_uri_mismatch"},
		{name: "wrong client secret", code: func(t *testing.T, gh *githubtest.Server, c oauth.GitHub) (string, string) {
			return authorize(t, gh, c, "alice")
		}, redirect: redirectURI, secret: "not-the-secret", want: "incorrect_client_credentials"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			gh, c := newClient(t)
			code, verifier := tc.code(t, gh, c)
			if tc.verifier != "" {
				verifier = tc.verifier
			}
			if tc.secret != "" {
				c.ClientSecret = tc.secret
			}
			token, err := c.Exchange(context.Background(), code, verifier, tc.redirect)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Exchange = %q, %v; want an error with %q", token, err, tc.want)
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

// Each sign-in gets its own state and verifier; the authorize URL carries
// the S256 challenge of the verifier, never the verifier itself.
func TestStartSendsAnS256Challenge(t *testing.T) {
	c := oauth.GitHub{WebURL: "https://github.example.com/", ClientID: "Iv1.client"}
	f := c.Start(redirectURI, []string{"read:org"}, map[string]string{"allow_signup": "false"})
	g := c.Start(redirectURI, nil, nil)
	if f.State == g.State || f.Verifier == g.Verifier || len(f.State) < 43 || len(f.Verifier) < 43 {
		t.Fatalf("flows share or have short secrets: %+v %+v", f, g)
	}
	u, err := url.Parse(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(f.Verifier))
	q := u.Query()
	want := map[string]string{"client_id": "Iv1.client", "redirect_uri": redirectURI, "state": f.State, "scope": "read:org",
		"code_challenge_method": "S256", "code_challenge": base64.RawURLEncoding.EncodeToString(sum[:]),
		"allow_signup": "false", "response_type": "code"}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	if u.Host != "github.example.com" || u.Path != "/login/oauth/authorize" || strings.Contains(f.URL, f.Verifier) {
		t.Errorf("authorize URL %s", f.URL)
	}
}
