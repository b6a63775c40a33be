package githubtest

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// principal is who a request authenticated as.
type principal struct {
	kind           string // "app", "installation" or "user"
	installationID int64
	user           string
}

// authedHandler is a route handler that runs after authentication, with
// Server.mu held.
type authedHandler func(w http.ResponseWriter, r *http.Request, p principal)

// defaultTokenTTL is how long GitHub's installation tokens live.
const defaultTokenTTL = time.Hour

// appOnly guards endpoints that need the app's JWT (GET /app, access tokens).
func (s *Server) appOnly(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			writeError(w, http.StatusUnauthorized, "A JSON web token could not be decoded")
			return
		}
		if msg := s.verifyAppJWT(strings.TrimSpace(bearer)); msg != "" {
			writeError(w, http.StatusUnauthorized, msg)
			return
		}
		h(w, r, principal{kind: "app"})
	}
}

// tokenAuth guards endpoints that need an installation or OAuth user token.
func (s *Server) tokenAuth(h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		p, status, msg := s.tokenPrincipal(r)
		if status != 0 {
			writeError(w, status, msg)
			return
		}
		h(w, r, p)
	}
}

// tokenPrincipal resolves "Authorization: token X" or "Bearer X".
func (s *Server) tokenPrincipal(r *http.Request) (principal, int, string) {
	auth := r.Header.Get("Authorization")
	var tok string
	switch {
	case strings.HasPrefix(auth, "token "):
		tok = strings.TrimPrefix(auth, "token ")
	case strings.HasPrefix(auth, "Bearer "):
		tok = strings.TrimPrefix(auth, "Bearer ")
	default:
		return principal{}, http.StatusUnauthorized, "Requires authentication"
	}
	tok = strings.TrimSpace(tok)
	if strings.Count(tok, ".") == 2 {
		return principal{}, http.StatusForbidden, "Resource not accessible by integration"
	}
	t, ok := s.state.tokens[tok]
	if !ok || !s.now().Before(t.expires) {
		return principal{}, http.StatusUnauthorized, "Bad credentials"
	}
	if t.installationID != 0 {
		if _, ok := s.state.installations[t.installationID]; !ok {
			return principal{}, http.StatusUnauthorized, "Bad credentials"
		}
		return principal{kind: "installation", installationID: t.installationID}, 0, ""
	}
	if _, ok := s.state.users[strings.ToLower(t.user)]; !ok {
		return principal{}, http.StatusUnauthorized, "Bad credentials"
	}
	return principal{kind: "user", user: t.user}, 0, ""
}

// canSeeAccount says whether p may read resources owned by account. An
// installation sees only its own account; a user token sees everything the
// fake has (the fake does not model per-user repository permissions).
func (s *Server) canSeeAccount(p principal, account string) bool {
	if p.kind != "installation" {
		return p.kind == "user"
	}
	in := s.state.installations[p.installationID]
	return in != nil && strings.EqualFold(in.account, account)
}

// actor is the login that acts for p (the app's bot user for installations).
func (s *Server) actor(p principal) string {
	if p.kind == "user" {
		return s.state.users[strings.ToLower(p.user)].login
	}
	return s.state.app.slug + "[bot]"
}

// jwtClaims are the claims GitHub reads from an app JWT.
type jwtClaims struct {
	Iss json.RawMessage `json:"iss"`
	Iat *float64        `json:"iat"`
	Exp *float64        `json:"exp"`
}

// verifyAppJWT checks an app JWT as GitHub does and returns GitHub's error
// message, or "" when the token is valid.
func (s *Server) verifyAppJWT(tok string) string {
	const undecodable = "A JSON web token could not be decoded"
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return undecodable
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if !decodeSegment(parts[0], &hdr) || hdr.Alg != "RS256" {
		return undecodable
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return undecodable
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.state.app.key.PublicKey, crypto.SHA256, digest[:], sig) != nil {
		return undecodable
	}
	var c jwtClaims
	if !decodeSegment(parts[1], &c) {
		return undecodable
	}
	iss := strings.Trim(string(c.Iss), `"`)
	if iss != strconv.FormatInt(s.state.app.id, 10) && iss != s.state.app.clientID {
		return "'Issuer' claim ('iss') must be an Integer"
	}
	now := float64(s.now().Unix())
	if c.Iat == nil || *c.Iat != math.Trunc(*c.Iat) || *c.Iat > now+60 {
		return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued."
	}
	if c.Exp == nil || *c.Exp != math.Trunc(*c.Exp) || *c.Exp <= now {
		return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires."
	}
	if *c.Exp-*c.Iat > 600 {
		return "'Expiration time' claim ('exp') is too far in the future."
	}
	return ""
}

// decodeSegment decodes one base64url JWT segment as JSON.
func decodeSegment(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && json.Unmarshal(b, v) == nil
}

// newToken mints a token with GitHub's prefix ("ghs_" installation, "ghu_" user).
func newToken(prefix string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	raw := randHex(36)
	b := make([]byte, 36)
	for i := range b {
		v, _ := strconv.ParseUint(raw[2*i:2*i+2], 16, 8)
		b[i] = alphabet[int(v)%len(alphabet)]
	}
	return prefix + string(b)
}

// SetInstallationTokenTTL changes how long new installation tokens live.
func (s *Server) SetInstallationTokenTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenTTL = d
}

// ExpireTokens makes every issued token (installation and user) invalid at
// once, as if they had expired.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.state.tokens {
		t.expires = s.now().Add(-time.Second)
	}
}

// InstallationToken mints an installation token directly, for tests that
// call the API without ghinstallation.
func (s *Server) InstallationToken(installationID int64) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.state.installations[installationID]; !ok {
		return "", fmt.Errorf("installation token for %d: no such installation", installationID)
	}
	tok, _ := s.issueInstallationToken(installationID)
	return tok, nil
}

func (s *Server) issueInstallationToken(id int64) (string, time.Time) {
	ttl := s.tokenTTL
	if ttl == 0 {
		ttl = defaultTokenTTL
	}
	tok := newToken("ghs_")
	exp := s.now().Add(ttl).UTC().Truncate(time.Second)
	s.state.tokens[tok] = &accessToken{installationID: id, expires: exp}
	return tok, exp
}

// handleAccessToken serves POST /app/installations/{id}/access_tokens.
func (s *Server) handleAccessToken(w http.ResponseWriter, r *http.Request, _ principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	in, ok := s.state.installations[id]
	if err != nil || !ok {
		writeNotFound(w)
		return
	}
	if in.suspended {
		writeError(w, http.StatusForbidden, "This installation has been suspended")
		return
	}
	tok, exp := s.issueInstallationToken(id)
	writeJSON(w, http.StatusCreated, map[string]any{
		"token": tok, "expires_at": ts(exp), "permissions": in.grantedPermissions(), "repository_selection": "all",
	})
}

// handleGetApp serves GET /app.
func (s *Server) handleGetApp(w http.ResponseWriter, _ *http.Request, _ principal) {
	writeJSON(w, http.StatusOK, s.appJSON())
}

// handleListInstallations serves GET /app/installations.
func (s *Server) handleListInstallations(w http.ResponseWriter, _ *http.Request, _ principal) {
	out := []any{}
	for _, id := range sortedKeys(s.state.installations) {
		out = append(out, s.installationJSON(s.state.installations[id]))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleGetInstallation serves GET /app/installations/{id}.
func (s *Server) handleGetInstallation(w http.ResponseWriter, r *http.Request, _ principal) {
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	in, ok := s.state.installations[id]
	if !ok {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.installationJSON(in))
}

// handleRepoInstallation serves GET /repos/{owner}/{repo}/installation and
// GET /orgs/{org}/installation.
func (s *Server) handleRepoInstallation(w http.ResponseWriter, r *http.Request, _ principal) {
	account := r.PathValue("owner")
	if account == "" {
		account = r.PathValue("org")
	} else if s.state.repo(account+"/"+r.PathValue("repo")) == nil {
		writeNotFound(w)
		return
	}
	in := s.state.installationFor(account)
	if in == nil {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.installationJSON(in))
}

// handleInstallationRepos serves GET /installation/repositories.
func (s *Server) handleInstallationRepos(w http.ResponseWriter, _ *http.Request, p principal) {
	if p.kind != "installation" {
		writeError(w, http.StatusForbidden, "You must authenticate with an installation access token in order to list repositories for an installation.")
		return
	}
	in := s.state.installations[p.installationID]
	repos := []any{}
	for _, k := range sortedKeys(s.state.repos) {
		if r := s.state.repos[k]; strings.EqualFold(r.owner, in.account) {
			repos = append(repos, s.repoJSON(r))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(repos), "repository_selection": "all", "repositories": repos})
}
