// Package oauth signs people in: with GitHub's OAuth web flow (GitHub), the
// one implementation both the Slack identity linking and the web pages'
// login use: golang.org/x/oauth2 with PKCE (S256), a fresh state per
// sign-in, then GET /user with the user token; and with Sign in with Slack
// (Slack, OpenID Connect), which the linking uses to prove the Slack side.
// Seal keeps a sign-in's state in the browser's cookie. It depends on
// go-github, slack-go and x/oauth2, not on the integrations.
package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"
	"golang.org/x/oauth2"
)

// GitHub is the GitHub App's OAuth client.
type GitHub struct {
	WebURL       string // e.g. https://github.com/: /login/oauth/authorize and /login/oauth/access_token
	APIURL       string // e.g. https://api.github.com/: GET /user
	ClientID     string
	ClientSecret string
	HTTPClient   *http.Client // nil means http.DefaultClient
}

// User is who a user token belongs to.
type User struct {
	Login string
	ID    int64
}

// Flow is a started sign-in. The caller keeps State and Verifier (bound
// to the browser or the person it started for) until the callback, and
// sends the browser to URL.
type Flow struct {
	State    string // the state parameter: the callback must bring it back
	Verifier string // PKCE code verifier: only its S256 challenge is sent now
	URL      string // GitHub's authorize page
}

// config is the x/oauth2 configuration for one redirect URI.
func (c GitHub) config(redirectURI string, scopes []string) *oauth2.Config {
	web := withSlash(c.WebURL)
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: redirectURI, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: web + "login/oauth/authorize", TokenURL: web + "login/oauth/access_token",
			AuthStyle: oauth2.AuthStyleInParams}}
}

// Start begins a sign-in that returns to redirectURI: a fresh state, a
// fresh PKCE verifier and the authorize URL carrying its S256 challenge.
// params are added to the authorize URL (allow_signup=false...).
func (c GitHub) Start(redirectURI string, scopes []string, params map[string]string) Flow {
	f := Flow{State: NewSecret(), Verifier: oauth2.GenerateVerifier()}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier)}
	for k, v := range params {
		opts = append(opts, oauth2.SetAuthURLParam(k, v))
	}
	f.URL = c.config(redirectURI, scopes).AuthCodeURL(f.State, opts...)
	return f
}

// Exchange trades an authorization code and its PKCE verifier for a user
// token. redirectURI must be the one the sign-in started with. The token
// is returned only: it is never logged here, and an error never quotes
// the token endpoint's answer.
func (c GitHub) Exchange(ctx context.Context, code, verifier, redirectURI string) (string, error) {
	if code == "" {
		return "", errors.New("callback without a code")
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.httpClient())
	tok, err := c.config(redirectURI, nil).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re) && re.ErrorCode != "":
		return "", fmt.Errorf("GitHub refused the OAuth code: %s (%s)", re.ErrorCode, re.ErrorDescription)
	case errors.As(err, &re):
		return "", fmt.Errorf("exchanging the OAuth code: HTTP %s", re.Response.Status)
	case err != nil:
		return "", fmt.Errorf("exchanging the OAuth code: %w", err)
	case tok.AccessToken == "":
		return "", errors.New("GitHub answered the OAuth code without a token")
	}
	return tok.AccessToken, nil
}

// SignIn finishes a sign-in: Exchange, then AuthenticatedUser. It returns
// the user token too, for callers that act as the user afterwards.
func (c GitHub) SignIn(ctx context.Context, code, verifier, redirectURI string) (string, User, error) {
	token, err := c.Exchange(ctx, code, verifier, redirectURI)
	if err != nil {
		return "", User{}, err
	}
	u, err := c.AuthenticatedUser(ctx, token)
	if err != nil {
		return "", User{}, err
	}
	return token, u, nil
}

// API is a GitHub API client acting as the holder of the user token.
func (c GitHub) API(token string) (*github.Client, error) {
	gh := github.NewClient(c.httpClient()).WithAuthToken(token)
	base, err := url.Parse(withSlash(c.APIURL))
	if err != nil {
		return nil, fmt.Errorf("GitHub API URL %q: %w", c.APIURL, err)
	}
	gh.BaseURL = base
	return gh, nil
}

// AuthenticatedUser reads GET /user with the user token. An answer without
// a login or id is an error, so no one is identified by an empty name.
func (c GitHub) AuthenticatedUser(ctx context.Context, token string) (User, error) {
	gh, err := c.API(token)
	if err != nil {
		return User{}, err
	}
	u, _, err := gh.Users.Get(ctx, "")
	if err != nil {
		return User{}, fmt.Errorf("reading GET /user: %w", err)
	}
	if u.GetID() == 0 || u.GetLogin() == "" {
		return User{}, errors.New("GET /user returned no login or id")
	}
	return User{Login: u.GetLogin(), ID: u.GetID()}, nil
}

func (c GitHub) httpClient() *http.Client {
	if c.HTTPClient == nil {
		return http.DefaultClient
	}
	return c.HTTPClient
}

// NewSecret returns 32 random bytes, base64url without padding: states,
// one-time links and browser-binding cookies.
func NewSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func withSlash(u string) string { return strings.TrimSuffix(u, "/") + "/" }
