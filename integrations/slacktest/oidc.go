package slacktest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

// Sign in with Slack (OpenID Connect), as Slack answers it: the browser's
// GET /openid/connect/authorize, and the Web API methods
// openid.connect.token (client credentials, the code, its PKCE verifier;
// answers an access token and an RS256 ID token) and
// openid.connect.userInfo (the user token; answers the claims, Slack's own
// under https://slack.com/...).

// Defaults of the fake app's OAuth client.
const (
	DefaultClientID     = "1234567890.1234567890123"
	DefaultClientSecret = "fake-slack-client-secret-0123456789"
)

// PathAuthorize is the browser-facing Sign in with Slack page.
const PathAuthorize = "/openid/connect/authorize"

// oidcState is the fake's Sign in with Slack state. Guarded by Server.mu.
type oidcState struct {
	signInAs string                // user ID the authorize page signs in at once; "" shows the form
	codes    map[string]*oidcCode  // by code
	tokens   map[string]oidcPerson // user tokens (xoxp-…) by value
}

type oidcCode struct {
	person      oidcPerson
	redirectURI string
	challenge   string
	nonce       string
	expires     time.Time
}

type oidcPerson struct{ user, team string }

// signingKey signs the fake's ID tokens; one for all fakes (RSA keys are
// slow to make).
var signingKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic("slacktest: generating the ID token key: " + err.Error())
	}
	return k
})

// WebURL is the value for Tollgate's slack.web_url: the base of the
// browser-facing Sign in with Slack page.
func (s *Server) WebURL() string { return s.URL + "/" }

// ClientID is the fake app's OAuth client id.
func (s *Server) ClientID() string { return s.opts.ClientID }

// ClientSecret is the fake app's OAuth client secret.
func (s *Server) ClientSecret() string { return s.opts.ClientSecret }

// SignInAs makes the authorize page sign the browser in at once as the
// user with that ID (a registered user), like a browser already signed
// in to Slack; "" brings back the sign-in form.
func (s *Server) SignInAs(userID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.oidc.signInAs = userID
}

var authorizePage = template.Must(template.New("authorize").Parse(`<!doctype html>
<html><head><title>Sign in to {{.Team}}</title></head><body>
<h1>Sign in to {{.Team}}</h1>
<form method="post" action="/openid/connect/authorize">
<label>Slack user ID <input name="user" id="user" autofocus></label>
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<button type="submit" id="sign-in">Sign in</button>
</form></body></html>`))

// serveAuthorize answers GET and POST /openid/connect/authorize.
func (s *Server) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	q := r.Form
	if q.Get("client_id") != s.opts.ClientID {
		http.Error(w, "Invalid client_id parameter", http.StatusBadRequest)
		return
	}
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !u.IsAbs() {
		http.Error(w, "Invalid redirect_uri parameter", http.StatusBadRequest)
		return
	}
	if q.Get("response_type") != "code" || !slices.Contains(strings.Fields(q.Get("scope")), "openid") {
		http.Error(w, "Invalid response_type or scope (want code and openid)", http.StatusBadRequest)
		return
	}
	if q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256" {
		http.Error(w, "Invalid code_challenge_method", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	who := s.oidc.signInAs
	if r.Method == http.MethodPost {
		who = strings.TrimSpace(r.PostForm.Get("user"))
	}
	if who == "" {
		params := map[string]string{}
		for _, k := range []string{"client_id", "redirect_uri", "state", "nonce", "scope", "response_type", "team",
			"code_challenge", "code_challenge_method"} {
			if v := q.Get(k); v != "" {
				params[k] = v
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = authorizePage.Execute(w, map[string]any{"Team": s.opts.TeamName, "Params": params})
		return
	}
	person, ok := s.users[who]
	if !ok {
		http.Error(w, "No such user in this workspace", http.StatusUnauthorized)
		return
	}
	code := "oidc-" + s.nextIDLocked("C")
	s.oidc.codes[code] = &oidcCode{person: oidcPerson{user: person.ID, team: person.TeamID},
		redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), nonce: q.Get("nonce"),
		expires: s.opts.Now().Add(10 * time.Minute)}
	v := u.Query()
	v.Set("code", code)
	if st := q.Get("state"); st != "" {
		v.Set("state", st)
	}
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// openIDToken is openid.connect.token: client credentials and a code
// (used once, even when refused) for a user token and an ID token.
func (s *Server) openIDToken(p params) (map[string]any, string) {
	if p.Get("client_id") != s.opts.ClientID {
		return nil, "invalid_client_id"
	}
	if subtle.ConstantTimeCompare([]byte(p.Get("client_secret")), []byte(s.opts.ClientSecret)) != 1 {
		return nil, "bad_client_secret"
	}
	c, ok := s.oidc.codes[p.Get("code")]
	delete(s.oidc.codes, p.Get("code"))
	if !ok || !s.opts.Now().Before(c.expires) {
		return nil, "invalid_code"
	}
	if ru := p.Get("redirect_uri"); ru != c.redirectURI {
		return nil, "bad_redirect_uri"
	}
	if c.challenge != "" {
		sum := sha256.Sum256([]byte(p.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			return nil, "invalid_code_verifier"
		}
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := "xoxp-oidc-" + hex.EncodeToString(b)
	s.oidc.tokens[tok] = c.person
	now := s.opts.Now()
	claims := map[string]any{
		"iss": "https://slack.com", "sub": c.person.user, "aud": s.opts.ClientID,
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "auth_time": now.Unix(), "nonce": c.nonce,
		"at_hash": "fake", "https://slack.com/team_id": c.person.team, "https://slack.com/user_id": c.person.user,
	}
	for k, v := range s.personClaims(c.person) {
		claims[k] = v
	}
	return map[string]any{"access_token": tok, "token_type": "Bearer", "id_token": signJWT(claims)}, ""
}

// openIDUserInfo is openid.connect.userInfo for a user token.
func (s *Server) openIDUserInfo(token string) (map[string]any, string) {
	person, ok := s.oidc.tokens[token]
	if !ok {
		return nil, "invalid_auth"
	}
	out := map[string]any{"sub": person.user, "https://slack.com/user_id": person.user, "https://slack.com/team_id": person.team}
	for k, v := range s.personClaims(person) {
		out[k] = v
	}
	return out, ""
}

// personClaims are the profile and workspace claims of a user.
func (s *Server) personClaims(p oidcPerson) map[string]any {
	u := s.users[p.user]
	out := map[string]any{"https://slack.com/team_name": s.opts.TeamName, "https://slack.com/team_domain": s.opts.TeamDomain}
	if u != nil {
		out["name"], out["email"], out["email_verified"] = u.RealName, u.Email, true
	}
	return out
}

// signJWT makes a compact RS256 JWT of claims.
func signJWT(claims map[string]any) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	head := enc(map[string]string{"typ": "JWT", "alg": "RS256", "kid": "slacktest"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(head))
	sig, err := rsa.SignPKCS1v15(rand.Reader, signingKey(), crypto.SHA256, sum[:])
	if err != nil {
		panic("slacktest: signing an ID token: " + err.Error())
	}
	return head + "." + base64.RawURLEncoding.EncodeToString(sig)
}
