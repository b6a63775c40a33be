// Package githuboauth signs people in with GitHub's OAuth web flow: it
// trades an authorization code for a user token and reads whose token it
// is. It is shared by the Slack identity linking and the web pages' login,
// and depends on go-github only, not on the GitHub App integration.
package githuboauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-github/v60/github"
)

// Client is the GitHub App's OAuth client.
type Client struct {
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

// maxTokenAnswer bounds the token endpoint's answer that is read.
const maxTokenAnswer = 1 << 20

// AuthorizeURL is GitHub's authorize page with the query q (client_id,
// redirect_uri, state, code_challenge...).
func (c Client) AuthorizeURL(q url.Values) string {
	return withSlash(c.WebURL) + "login/oauth/authorize?" + q.Encode()
}

// ExchangeCode trades an authorization code and its PKCE verifier for a user
// token. redirectURI must be the one the authorization was asked with. The
// token is returned only: it is never logged here.
func (c Client) ExchangeCode(ctx context.Context, code, verifier, redirectURI string) (string, error) {
	if code == "" {
		return "", errors.New("callback without a code")
	}
	form := url.Values{"client_id": {c.ClientID}, "client_secret": {c.ClientSecret}, "code": {code},
		"redirect_uri": {redirectURI}, "code_verifier": {verifier}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, withSlash(c.WebURL)+"login/oauth/access_token",
		strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("building the token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return "", fmt.Errorf("exchanging the OAuth code: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxTokenAnswer)).Decode(&tok); err != nil {
		return "", fmt.Errorf("decoding the token answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if tok.AccessToken == "" {
		return "", fmt.Errorf("GitHub refused the OAuth code: %s (%s)", tok.Error, tok.Description)
	}
	return tok.AccessToken, nil
}

// API is a GitHub API client acting as the holder of the user token.
func (c Client) API(token string) (*github.Client, error) {
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
func (c Client) AuthenticatedUser(ctx context.Context, token string) (User, error) {
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

func (c Client) httpClient() *http.Client {
	if c.HTTPClient == nil {
		return http.DefaultClient
	}
	return c.HTTPClient
}

func withSlash(u string) string { return strings.TrimSuffix(u, "/") + "/" }
