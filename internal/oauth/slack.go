package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"
	"golang.org/x/oauth2"
)

// Slack is a Slack app's "Sign in with Slack" client (OpenID Connect): the
// browser goes to <WebURL>openid/connect/authorize; the code comes back to
// the redirect URI and is exchanged at <APIURL>openid.connect.token, with
// the client secret and the PKCE verifier (through x/oauth2: slack-go's
// GetOpenIDConnectToken sends no verifier); openid.connect.userInfo
// (slack-go) then says who signed in, which must agree with the ID token.
type Slack struct {
	WebURL       string // e.g. https://slack.com/ (GovSlack: https://slack-gov.com/)
	APIURL       string // slack.api_url, e.g. https://slack.com/api/
	ClientID     string
	ClientSecret string
	HTTPClient   *http.Client // nil means http.DefaultClient
}

// SlackFlow is a started Sign in with Slack. The caller keeps State,
// Verifier and Nonce (bound to the browser) until the callback, and sends
// the browser to URL.
type SlackFlow struct {
	State    string
	Verifier string // PKCE code verifier
	Nonce    string // must come back in the ID token
	URL      string // Slack's authorize page
}

// SlackUser is who signed in with Slack.
type SlackUser struct {
	TeamID  string // https://slack.com/team_id
	UserID  string // https://slack.com/user_id
	Subject string // the OpenID subject (sub)
}

// Configured reports whether the client has what a sign-in needs.
func (c Slack) Configured() bool { return c.ClientID != "" && c.ClientSecret != "" }

func (c Slack) config(redirectURI string) *oauth2.Config {
	return &oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: redirectURI,
		Scopes: []string{"openid"},
		Endpoint: oauth2.Endpoint{AuthURL: withSlash(c.WebURL) + "openid/connect/authorize",
			TokenURL: withSlash(c.APIURL) + "openid.connect.token", AuthStyle: oauth2.AuthStyleInParams}}
}

// Start begins a sign-in returning to redirectURI. team, when set, asks
// Slack to sign in to that workspace.
func (c Slack) Start(redirectURI, team string) SlackFlow {
	f := SlackFlow{State: NewSecret(), Verifier: oauth2.GenerateVerifier(), Nonce: NewSecret()}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(f.Verifier), oauth2.SetAuthURLParam("nonce", f.Nonce)}
	if team != "" {
		opts = append(opts, oauth2.SetAuthURLParam("team", team))
	}
	f.URL = c.config(redirectURI).AuthCodeURL(f.State, opts...)
	return f
}

// idClaims are the ID token claims a sign-in checks.
type idClaims struct {
	Aud    audience `json:"aud"`
	Nonce  string   `json:"nonce"`
	Sub    string   `json:"sub"`
	UserID string   `json:"https://slack.com/user_id"`
	TeamID string   `json:"https://slack.com/team_id"`
}

// audience is the aud claim: one string or a list.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// SignIn finishes a sign-in: it exchanges the code (with the PKCE
// verifier), checks the ID token was issued to this app for this
// sign-in (aud, nonce), and asks openid.connect.userInfo who the token
// belongs to; the two must name the same Slack user. The ID token comes
// straight from Slack's token endpoint over TLS, which is what vouches
// for it (OpenID Connect Core 3.1.3.7); its signature is not checked
// again. The user token is used for the one call and dropped; an error
// never quotes it.
func (c Slack) SignIn(ctx context.Context, code, verifier, nonce, redirectURI string) (SlackUser, error) {
	if code == "" {
		return SlackUser{}, errors.New("callback without a code")
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	tok, err := c.config(redirectURI).Exchange(context.WithValue(ctx, oauth2.HTTPClient, hc), code, oauth2.VerifierOption(verifier))
	if err != nil {
		// Slack answers a refused code with HTTP 200 and ok:false, which
		// x/oauth2 reports as a missing token.
		return SlackUser{}, fmt.Errorf("Slack did not accept the sign-in code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	claims, err := parseIDToken(raw)
	if err != nil {
		return SlackUser{}, err
	}
	switch {
	case !slices.Contains(claims.Aud, c.ClientID):
		return SlackUser{}, errors.New("the ID token was issued to another app")
	case subtle.ConstantTimeCompare([]byte(claims.Nonce), []byte(nonce)) != 1 || nonce == "":
		return SlackUser{}, errors.New("the ID token belongs to another sign-in (nonce)")
	}
	api := slackapi.New(tok.AccessToken, slackapi.OptionAPIURL(withSlash(c.APIURL)), slackapi.OptionHTTPClient(hc))
	info, err := api.GetOpenIDConnectUserInfoContext(ctx)
	if err != nil {
		return SlackUser{}, fmt.Errorf("reading openid.connect.userInfo: %w", err)
	}
	u := SlackUser{TeamID: info.TeamID, UserID: info.UserID, Subject: info.Sub}
	if u.TeamID == "" || u.UserID == "" {
		return SlackUser{}, errors.New("openid.connect.userInfo named no team or user")
	}
	if u.TeamID != claims.TeamID || u.UserID != claims.UserID {
		return SlackUser{}, fmt.Errorf("openid.connect.userInfo names %s/%s, the ID token %s/%s", u.TeamID, u.UserID, claims.TeamID, claims.UserID)
	}
	return u, nil
}

// parseIDToken decodes a JWT's claims (header.claims.signature).
func parseIDToken(raw string) (idClaims, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return idClaims{}, errors.New("the sign-in answer has no ID token")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return idClaims{}, fmt.Errorf("the ID token's claims are not base64url: %w", err)
	}
	var c idClaims
	if err := json.Unmarshal(b, &c); err != nil {
		return idClaims{}, fmt.Errorf("the ID token's claims: %w", err)
	}
	return c, nil
}

// probeCode is a code Slack never issued, sent by CheckClient.
const probeCode = "tollgate-client-check"

// CheckClient asks Slack whether it knows the client id and secret,
// without anyone signing in: it exchanges a code Slack never issued at
// openid.connect.token, which Slack checks the client credentials before
// the code. invalid_code means the credentials were accepted; any other
// answer is the error. Nothing is issued, and the secret is never quoted.
func (c Slack) CheckClient(ctx context.Context) error {
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	_, err := slackapi.GetOpenIDConnectTokenContext(ctx, hc, c.ClientID, c.ClientSecret, probeCode, "",
		slackapi.OAuthOptionAPIURL(withSlash(c.APIURL)))
	var se slackapi.SlackErrorResponse
	switch {
	case err == nil:
		return errors.New("openid.connect.token accepted a code Slack never issued")
	case errors.As(err, &se) && se.Err == "invalid_code":
		return nil
	case errors.As(err, &se):
		return fmt.Errorf("openid.connect.token: %s", se.Err)
	}
	return fmt.Errorf("openid.connect.token: %w", err)
}
