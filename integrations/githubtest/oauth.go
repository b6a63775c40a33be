package githubtest

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// oauthState holds the OAuth web flow and app manifest flow state.
type oauthState struct {
	authorizeAs   string
	codes         map[string]*oauthCode
	manifestCodes map[string]time.Time
	manifests     []json.RawMessage
}

// oauthCode is an issued authorization code.
type oauthCode struct {
	login       string
	redirectURI string
	challenge   string
	expires     time.Time
}

// userTokenTTL is how long GitHub App user tokens live (8 hours).
const userTokenTTL = 8 * time.Hour

// AuthorizeAs makes GET /login/oauth/authorize approve at once as login
// and redirect to redirect_uri with code and state, like a user who already
// authorised the app. "" brings back the login page.
func (s *Server) AuthorizeAs(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if login != "" {
		s.state.ensureUser(login)
	}
	s.state.oauth.authorizeAs = login
}

// UserToken mints an OAuth user token for login directly.
func (s *Server) UserToken(login string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.ensureUser(login)
	tok := newToken("ghu_")
	s.state.tokens[tok] = &accessToken{user: s.state.users[strings.ToLower(login)].login, expires: s.now().Add(userTokenTTL)}
	return tok
}

// authorizePage is the fake's "Authorize app" page, a form asking for a login.
var authorizePage = template.Must(template.New("authorize").Parse(`<!doctype html>
<html><head><title>Authorize {{.App}}</title></head><body>
<h1>Authorize {{.App}}</h1>
<form method="post" action="/login/oauth/authorize">
<label>Sign in as <input name="login" id="login" autofocus></label>
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<button type="submit" id="authorize">Authorize</button>
</form></body></html>`))

// handleAuthorize serves GET /login/oauth/authorize.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := r.URL.Query()
	if !s.validAuthorizeParams(w, q) {
		return
	}
	if login := s.state.oauth.authorizeAs; login != "" {
		s.redirectWithCode(w, r, q, login)
		return
	}
	params := map[string]string{}
	for _, k := range []string{"client_id", "redirect_uri", "state", "code_challenge", "code_challenge_method", "scope"} {
		if v := q.Get(k); v != "" {
			params[k] = v
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = authorizePage.Execute(w, map[string]any{"App": s.state.app.name, "Params": params})
}

// handleAuthorizeForm serves the login page's form post.
func (s *Server) handleAuthorizeForm(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if !s.validAuthorizeParams(w, r.PostForm) {
		return
	}
	login := strings.TrimSpace(r.PostForm.Get("login"))
	u, ok := s.state.users[strings.ToLower(login)]
	if !ok {
		http.Error(w, "Incorrect username or password.", http.StatusUnauthorized)
		return
	}
	s.redirectWithCode(w, r, r.PostForm, u.login)
}

// validAuthorizeParams checks client_id, redirect_uri and PKCE parameters
// and answers an error page when they are wrong.
func (s *Server) validAuthorizeParams(w http.ResponseWriter, q url.Values) bool {
	if q.Get("client_id") != s.state.app.clientID {
		http.Error(w, "Not Found (unknown client_id)", http.StatusNotFound)
		return false
	}
	if u, err := url.Parse(q.Get("redirect_uri")); err != nil || !u.IsAbs() {
		http.Error(w, "The redirect_uri MUST match the registered callback URL for this application.", http.StatusBadRequest)
		return false
	}
	if q.Get("code_challenge") != "" && q.Get("code_challenge_method") != "S256" {
		http.Error(w, "code_challenge_method must be S256", http.StatusBadRequest)
		return false
	}
	return true
}

// redirectWithCode issues a code for login and redirects to redirect_uri.
func (s *Server) redirectWithCode(w http.ResponseWriter, r *http.Request, q url.Values, login string) {
	code := randHex(10)
	s.state.oauth.codes[code] = &oauthCode{
		login: login, redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"),
		expires: s.now().Add(10 * time.Minute),
	}
	u, _ := url.Parse(q.Get("redirect_uri"))
	v := u.Query()
	v.Set("code", code)
	if st := q.Get("state"); st != "" {
		v.Set("state", st)
	}
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// handleAccessTokenExchange serves POST /login/oauth/access_token. Like
// GitHub it answers errors with status 200 and an "error" field, in JSON
// when the client accepts it and form-encoded otherwise.
func (s *Server) handleAccessTokenExchange(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	params := url.Values{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		var m map[string]string
		if json.NewDecoder(r.Body).Decode(&m) == nil {
			for k, v := range m {
				params.Set(k, v)
			}
		}
	} else if err := r.ParseForm(); err == nil {
		params = r.Form
	}
	asJSON := strings.Contains(r.Header.Get("Accept"), "json")
	fail := func(code, desc string) {
		writeOAuth(w, asJSON, map[string]any{"error": code, "error_description": desc, "error_uri": "https://docs.github.com/apps/troubleshooting-oauth-errors"})
	}
	if params.Get("client_id") != s.state.app.clientID ||
		subtle.ConstantTimeCompare([]byte(params.Get("client_secret")), []byte(s.state.app.clientSecret)) != 1 {
		fail("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
		return
	}
	c, ok := s.state.oauth.codes[params.Get("code")]
	delete(s.state.oauth.codes, params.Get("code")) // single use, even when refused
	if !ok || !s.now().Before(c.expires) {
		fail("bad_verification_code", "The code passed is incorrect or expired.")
		return
	}
	if ru := params.Get("redirect_uri"); ru != "" && ru != c.redirectURI {
		fail("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.")
		return
	}
	if c.challenge != "" {
		sum := sha256.Sum256([]byte(params.Get("code_verifier")))
		if params.Get("code_verifier") == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
			fail("bad_verification_code", "The code_verifier does not match the code_challenge.")
			return
		}
	}
	tok := newToken("ghu_")
	s.state.tokens[tok] = &accessToken{user: c.login, expires: s.now().Add(userTokenTTL)}
	writeOAuth(w, asJSON, map[string]any{
		"access_token": tok, "expires_in": int(userTokenTTL / time.Second), "refresh_token": newToken("ghr_"),
		"refresh_token_expires_in": 15897600, "scope": "", "token_type": "bearer",
	})
}

// writeOAuth writes an OAuth token endpoint answer in the accepted format.
func writeOAuth(w http.ResponseWriter, asJSON bool, m map[string]any) {
	if asJSON {
		writeJSON(w, http.StatusOK, m)
		return
	}
	v := url.Values{}
	for k, x := range m {
		b, _ := json.Marshal(x)
		v.Set(k, strings.Trim(string(b), `"`))
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	_, _ = w.Write([]byte(v.Encode()))
}
