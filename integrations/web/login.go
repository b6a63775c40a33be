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
	if _, err := h.sessions.get(cookieValue(r, sessionCookie(h.secure)), now); err == nil {
		http.Redirect(w, r, next, http.StatusFound)
		return
	}
	// read:org: OAuth Apps need it for the membership check; GitHub Apps ignore it.
	flow := h.gh.Start(h.callbackURL(), []string{"read:org"}, map[string]string{"allow_signup": "false"})
	sealed, err := h.seal.seal(loginCookie(h.secure), pendingLogin{State: flow.State, Verifier: flow.Verifier,
		Next: next, Expires: now.Add(loginTTL)})
	if err != nil {
		h.log.ErrorContext(r.Context(), "web login: sealing the sign-in state", "err", err)
		h.message(w, r, http.StatusInternalServerError, "Not signed in", "Could not start the sign-in. Try again.")
		return
	}
	h.setCookie(w, loginCookie(h.secure), sealed, loginTTL)
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
	state := q.Get("state")
	pending, err := h.seal.open(loginCookie(h.secure), cookie, h.now())
	if errors.Is(err, errLoginExpired) {
		h.message(w, r, http.StatusBadRequest, "Sign-in expired", "This sign-in expired. Start again.")
		return
	}
	if err != nil || state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(pending.State)) != 1 {
		h.message(w, r, http.StatusBadRequest, "Sign-in not recognised",
			"This sign-in was not started in this browser, or it was already used. Start again.")
		return
	}
	token, err := h.gh.Exchange(ctx, q.Get("code"), pending.Verifier, h.callbackURL())
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
	id := h.sessions.create(session{login: acct.Login, githubID: acct.ID, role: role, token: token,
		created: now, lastSeen: now, checkedAt: now})
	h.setCookie(w, sessionCookie(h.secure), id, h.cfg.SessionMax)
	h.log.InfoContext(ctx, "web login", "login", acct.Login, "role", role)
	http.Redirect(w, r, pending.Next, http.StatusFound)
}

// recheck re-confirms the viewer's access with GitHub every RecheckEvery,
// so someone removed from the organisation loses the pages within that
// time. It fails closed: an answer it cannot get shows no page.
func (h *Handler) recheck(ctx context.Context, w http.ResponseWriter, r *http.Request, s *session) bool {
	now := h.now()
	if now.Sub(s.checkedAt) < h.cfg.RecheckEvery {
		return true
	}
	role, err := h.access(ctx, s.token, s.login)
	if errors.Is(err, errTokenRefused) {
		// GitHub user tokens expire (8 h): sign in again, which GitHub
		// answers at once for someone who already authorised the app.
		h.sessions.delete(s.key)
		h.clearCookie(w, sessionCookie(h.secure))
		http.Redirect(w, r, PathLogin+"?next="+url.QueryEscape(requestedPage(r)), http.StatusFound)
		return false
	}
	if errors.Is(err, errNoAccess) {
		h.sessions.delete(s.key)
		h.clearCookie(w, sessionCookie(h.secure))
		h.log.InfoContext(ctx, "web session ended: access withdrawn", "login", s.login)
		h.message(w, r, http.StatusForbidden, "No access",
			"@"+s.login+" no longer has access to Tollgate's pages (not an active member of "+h.cfg.OAuth.Org+", or the GitHub sign-in was revoked).")
		return false
	}
	if err != nil {
		h.log.ErrorContext(ctx, "web session: membership re-check failed", "login", s.login, "err", err)
		h.message(w, r, http.StatusServiceUnavailable, "Could not check access",
			"Could not confirm your membership with GitHub. Try again shortly.")
		return false
	}
	h.sessions.markChecked(s.key, role, now)
	s.role, s.checkedAt = role, now
	return true
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
		h.sessions.delete(keyOf(v))
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
