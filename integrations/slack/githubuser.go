package slack

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

// githubAccount is who a GitHub user token belongs to.
type githubAccount struct {
	login string
	id    int64
}

// githubUser exchanges an OAuth code (with its PKCE verifier) for a user
// token and reads GET /user with it. The token is used for this one call
// and never stored or logged.
func (h *Handler) githubUser(ctx context.Context, code, verifier string) (githubAccount, error) {
	if code == "" {
		return githubAccount{}, errors.New("callback without a code")
	}
	form := url.Values{"client_id": {h.gh.ClientID}, "client_secret": {h.gh.ClientSecret}, "code": {code},
		"redirect_uri": {h.public + PathOAuthCallback}, "code_verifier": {verifier}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, withSlash(h.gh.WebURL)+"login/oauth/access_token",
		strings.NewReader(form.Encode()))
	if err != nil {
		return githubAccount{}, fmt.Errorf("building the token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := h.gh.HTTPClient.Do(req)
	if err != nil {
		return githubAccount{}, fmt.Errorf("exchanging the OAuth code: %w", err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&tok); err != nil {
		return githubAccount{}, fmt.Errorf("decoding the token answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if tok.AccessToken == "" {
		return githubAccount{}, fmt.Errorf("GitHub refused the OAuth code: %s (%s)", tok.Error, tok.Description)
	}
	gh := github.NewClient(h.gh.HTTPClient).WithAuthToken(tok.AccessToken)
	if gh.BaseURL, err = url.Parse(withSlash(h.gh.APIURL)); err != nil {
		return githubAccount{}, fmt.Errorf("GitHub API URL %q: %w", h.gh.APIURL, err)
	}
	u, _, err := gh.Users.Get(ctx, "")
	if err != nil {
		return githubAccount{}, fmt.Errorf("reading GET /user: %w", err)
	}
	if u.GetID() == 0 || u.GetLogin() == "" {
		return githubAccount{}, errors.New("GET /user returned no login or id")
	}
	return githubAccount{login: u.GetLogin(), id: u.GetID()}, nil
}
