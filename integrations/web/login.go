package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// loginTTL is how long a started sign-in may take at GitHub.
const loginTTL = 10 * time.Minute

// defaultNext is where a sign-in without a next page lands.
const defaultNext = PathEnvironments

// pendingLogin is one started OAuth web flow. It lives in the browser's
// login cookie, sealed (AES-GCM under a key only the replicas derive) and
// bound to the flow's state, not in a replica's memory: the callback may
// reach any replica behind the load balancer, and anonymous /login
// requests store nothing on the server. The cookie is cleared at the
// callback, and GitHub takes each code once.
type pendingLogin struct {
	verifier string // PKCE code verifier
	next     string // local page to return to
	expires  time.Time
}

// sealedLogin is pendingLogin as sealed in the cookie.
type sealedLogin struct {
	Verifier string    `json:"v"`
	Next     string    `json:"n"`
	Expires  time.Time `json:"e"`
}

// loginCookieValue is the login cookie for the flow of state: the state,
// a dot, and the flow sealed for that state.
func (s sealer) loginCookieValue(state string, l pendingLogin) (string, error) {
	sealed, err := s.Seal.Seal("login:"+state, sealedLogin{Verifier: l.verifier, Next: l.next, Expires: l.expires})
	if err != nil {
		return "", err
	}
	return state + "." + sealed, nil
}

var errLoginCookie = errors.New("not a sign-in this site started")

// openLoginCookie returns the flow in the login cookie value when it was
// sealed for state (compared in constant time) and has not expired.
func (s sealer) openLoginCookie(value, state string, now time.Time) (pendingLogin, error) {
	cookieState, sealed, ok := strings.Cut(value, ".")
	if !ok || state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(cookieState)) != 1 {
		return pendingLogin{}, errLoginCookie
	}
	var f sealedLogin
	if s.Open("login:"+state, sealed, &f) != nil {
		return pendingLogin{}, errLoginCookie
	}
	if !now.Before(f.Expires) {
		return pendingLogin{}, errLoginExpired
	}
	return pendingLogin{verifier: f.Verifier, next: safeNext(f.Next), expires: f.Expires}, nil
}

var errLoginExpired = errors.New("sign-in expired")

// safeNext returns next when it is a path on this site, else defaultNext:
// no scheme, no host, no protocol-relative "//" or "/\" (browsers treat a
// backslash as a slash), no control characters. This is what keeps the
// login from being an open redirect.
func safeNext(next string) string {
	if next == "" || next[0] != '/' || len(next) > 2048 {
		return defaultNext
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return defaultNext
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f || c == '\\' {
			return defaultNext
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return defaultNext
	}
	if strings.HasPrefix(u.Path, PathLogin) || u.Path == PathLogout {
		return defaultNext
	}
	return next
}

// login starts the GitHub OAuth web flow (internal/oauth): a fresh state
// and a PKCE S256 challenge, kept sealed in this browser's login cookie
// (loginstate.go), which binds the flow to it and holds nothing on the
// server.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	now := h.now()
	if _, err := h.sessions.get(r.Context(), cookieValue(r, sessionCookie(h.secure)), now); err == nil {
		http.Redirect(w, r, next, http.StatusFound)
		return
	}
	// read:org: OAuth Apps need it for the membership check; GitHub Apps ignore it.
	flow := h.gh.Start(h.callbackURL(), []string{"read:org"}, map[string]string{"allow_signup": "false"})
	value, err := h.logins.loginCookieValue(flow.State, pendingLogin{verifier: flow.Verifier, next: next, expires: now.Add(loginTTL)})
	if err != nil {
		h.log.ErrorContext(r.Context(), "web login: sealing the sign-in failed", "err", err)
		h.message(w, r, http.StatusInternalServerError, "Not signed in", "Tollgate could not start the sign-in. Try again.")
		return
	}
	h.setCookie(w, loginCookie(h.secure), value, loginTTL)
	http.Redirect(w, r, flow.URL, http.StatusFound)
}

func (h *Handler) callbackURL() string { return h.public.String() + PathCallback }

// callback finishes the flow: the state must match this browser's cookie
// and a flow started here; the code is exchanged with its verifier; the
// account must be an active org member or auditor. Only then is a session
// created.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	cookie := cookieValue(r, loginCookie(h.secure))
	h.clearCookie(w, loginCookie(h.secure))
	if e := q.Get("error"); e != "" {
		h.message(w, r, http.StatusForbidden, "Not signed in",
			"GitHub did not sign you in ("+e+"). You can try again.")
		return
	}
	pending, err := h.logins.openLoginCookie(cookie, q.Get("state"), h.now())
	if errors.Is(err, errLoginExpired) {
		h.message(w, r, http.StatusBadRequest, "Sign-in expired", "This sign-in expired. Start again.")
		return
	}
	if err != nil {
		h.message(w, r, http.StatusBadRequest, "Sign-in not recognised",
			"This sign-in was not started in this browser, or it was already used. Start again.")
		return
	}
	token, err := h.gh.Exchange(ctx, q.Get("code"), pending.verifier, h.callbackURL())
	if err != nil {
		h.log.WarnContext(ctx, "web login: code exchange failed", "err", err)
		h.message(w, r, http.StatusBadGateway, "Not signed in", "GitHub did not accept the sign-in. Start again.")
		return
	}
	acct, err := h.gh.AuthenticatedUser(ctx, token)
	if err != nil {
		h.log.WarnContext(ctx, "web login: reading the GitHub user failed", "err", err)
		h.message(w, r, http.StatusBadGateway, "Not signed in", "Could not read your GitHub account. Start again.")
		return
	}
	role, err := h.access(ctx, token, acct.Login)
	if errors.Is(err, errNoAccess) {
		h.log.InfoContext(ctx, "web login refused: not an org member or auditor", "login", acct.Login, "org", h.cfg.OAuth.Org)
		h.message(w, r, http.StatusForbidden, "No access",
			"@"+acct.Login+" is not an active member of the "+h.cfg.OAuth.Org+" organisation, so Tollgate's pages are not open to this account.")
		return
	}
	if err != nil {
		h.log.ErrorContext(ctx, "web login: membership check failed", "login", acct.Login, "err", err)
		h.message(w, r, http.StatusServiceUnavailable, "Could not check access",
			"Could not confirm your membership with GitHub. Try again shortly.")
		return
	}
	now := h.now()
	id, err := h.sessions.create(ctx, Session{Login: acct.Login, GitHubID: acct.ID, Role: role,
		Created: now, LastSeen: now, CheckedAt: now}, token)
	if err != nil {
		h.log.ErrorContext(ctx, "web login: storing the session failed", "login", acct.Login, "err", err)
		h.message(w, r, http.StatusServiceUnavailable, "Not signed in", "Tollgate could not store your session. Try again shortly.")
		return
	}
	h.setCookie(w, sessionCookie(h.secure), id, h.cfg.SessionMax)
	h.log.InfoContext(ctx, "web login", "login", acct.Login, "role", role)
	http.Redirect(w, r, pending.next, http.StatusFound)
}

// recheck re-confirms the viewer's access with GitHub every RecheckEvery,
// so someone removed from the organisation loses the pages within that
// time. It fails closed: an answer it cannot get shows no page.
func (h *Handler) recheck(ctx context.Context, w http.ResponseWriter, r *http.Request, s *session) bool {
	now := h.now()
	if now.Sub(s.CheckedAt) < h.cfg.RecheckEvery {
		return true
	}
	role, err := h.access(ctx, s.token, s.Login)
	if errors.Is(err, errTokenRefused) {
		// GitHub user tokens expire (8 h): sign in again, which GitHub
		// answers at once for someone who already authorised the app.
		h.endSession(ctx, s.Key)
		h.clearCookie(w, sessionCookie(h.secure))
		http.Redirect(w, r, PathLogin+"?next="+url.QueryEscape(requestedPage(r)), http.StatusFound)
		return false
	}
	if errors.Is(err, errNoAccess) {
		h.endSession(ctx, s.Key)
		h.clearCookie(w, sessionCookie(h.secure))
		h.log.InfoContext(ctx, "web session ended: access withdrawn", "login", s.Login)
		h.message(w, r, http.StatusForbidden, "No access",
			"@"+s.Login+" no longer has access to Tollgate's pages (not an active member of "+h.cfg.OAuth.Org+", or the GitHub sign-in was revoked).")
		return false
	}
	if err != nil {
		h.log.ErrorContext(ctx, "web session: membership re-check failed", "login", s.Login, "err", err)
		h.message(w, r, http.StatusServiceUnavailable, "Could not check access",
			"Could not confirm your membership with GitHub. Try again shortly.")
		return false
	}
	if err := h.sessions.markChecked(ctx, s.Key, role, now); err != nil {
		// The check passed; the next page view checks again.
		h.log.WarnContext(ctx, "web session: recording the re-check failed", "login", s.Login, "err", err)
	}
	s.Role, s.CheckedAt = role, now
	return true
}

// endSession deletes a session; a failure is logged (the cookie is
// cleared regardless, and the session expires on its own).
func (h *Handler) endSession(ctx context.Context, key string) {
	if err := h.sessions.delete(ctx, key); err != nil {
		h.log.ErrorContext(ctx, "web session: ending it failed", "err", err)
	}
}

// logoutForm shows a button that signs out (POST, so a link on another
// site cannot sign anyone out).
func (h *Handler) logoutForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "logout", pageData{Title: "Sign out"})
}

// logout ends the session. A cross-site POST is refused: SameSite=Lax
// already keeps the cookie off it, and the Origin check says so plainly.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" && o != "null" && o != h.public.Scheme+"://"+h.public.Host {
		h.message(w, r, http.StatusForbidden, "Refused", "Sign out from Tollgate's own pages.")
		return
	}
	if v := cookieValue(r, sessionCookie(h.secure)); v != "" {
		h.endSession(r.Context(), keyOf(v))
	}
	h.clearCookie(w, sessionCookie(h.secure))
	h.render(w, r, http.StatusOK, "message", pageData{Title: "Signed out",
		Message: "You are signed out of Tollgate.", Link: PathLogin, LinkText: "Sign in again"})
}

// requestedPage is the local path and query r asked for.
func requestedPage(r *http.Request) string {
	next := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		next += "?" + r.URL.RawQuery
	}
	return next
}
