package slack

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/linkstate"
	"github.com/tollgate-dev/tollgate/internal/oauth"
)

// LinkTTL is how long a /deploy link URL, and the sign-in it starts, stay valid.
const LinkTTL = 10 * time.Minute

// linkCookie binds an OAuth flow to the browser that started it, so a
// callback carrying someone else's state is refused.
const linkCookie = "tollgate_link"

// Refusal codes of the linking flow (audited as action.refused).
const (
	CodeLinkUnknown   bot.RefusalCode = "link_unknown"
	CodeLinkUsed      bot.RefusalCode = "link_used"
	CodeLinkExpired   bot.RefusalCode = "link_expired"
	CodeLinkOtherUser bot.RefusalCode = "link_other_user"
	CodeLinkDenied    bot.RefusalCode = "link_denied"
)

// startLink mints the one-time link /deploy link hands to a Slack user.
func (h *Handler) startLink(ctx context.Context, team, user string) (string, error) {
	if h.gh.ClientID == "" {
		return "Linking is not set up on this Tollgate (github.oauth_client_id is missing).", nil
	}
	key := oauth.NewSecret()
	now := h.now().UTC()
	if err := h.store.SaveOAuthState(ctx, linkstate.State{Kind: linkstate.KindLink, Key: key, Workspace: team,
		User: user, CreatedAt: now, ExpiresAt: now.Add(LinkTTL)}); err != nil {
		return "", err
	}
	link := h.public + PathOAuthStart + "?token=" + url.QueryEscape(key)
	return fmt.Sprintf("<%s|Link your GitHub account> — this link is for you only, works once, and expires in %d minutes.",
		link, int(LinkTTL/time.Minute)), nil
}

// ServeOAuthStart answers GET /oauth/github/start?token=…: it uses the
// one-time link and sends the browser to GitHub's authorize page with a
// fresh state (bound to the Slack user and this browser) and a PKCE challenge.
func (h *Handler) ServeOAuthStart(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := h.now().UTC()
	link, err := h.store.ConsumeOAuthState(ctx, linkstate.KindLink, r.URL.Query().Get("token"), now)
	if err != nil {
		h.refuseLink(w, r, link, err, "this link")
		return
	}
	flow, browser := h.gh.Start(h.public+PathOAuthCallback, nil, nil), oauth.NewSecret()
	if err := h.store.SaveOAuthState(ctx, linkstate.State{Kind: linkstate.KindFlow, Key: flow.State,
		Workspace: link.Workspace, User: link.User, Verifier: flow.Verifier, Browser: browser,
		CreatedAt: now, ExpiresAt: now.Add(LinkTTL)}); err != nil {
		h.log.ErrorContext(ctx, "saving OAuth state", slog.Any("err", err))
		writePage(w, http.StatusInternalServerError, "Tollgate could not start the sign-in. Run /deploy link again.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: linkCookie, Value: browser, Path: "/oauth/github/",
		MaxAge: int(LinkTTL / time.Second), HttpOnly: true, Secure: strings.HasPrefix(h.public, "https://"),
		SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, flow.URL, http.StatusFound)
}

// ServeOAuthCallback answers GET /oauth/github/callback: it uses the
// state once, checks it was started in this browser, exchanges the code
// (with the PKCE verifier), reads who the GitHub user is, and links them.
func (h *Handler) ServeOAuthCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	st, err := h.store.ConsumeOAuthState(ctx, linkstate.KindFlow, q.Get("state"), h.now().UTC())
	if err != nil {
		h.refuseLink(w, r, st, err, "this sign-in")
		return
	}
	cookie, _ := r.Cookie(linkCookie)
	if cookie == nil || !st.BrowserMatches(cookie.Value) {
		h.refuseLink(w, r, st, &bot.Refusal{Code: CodeLinkOtherUser,
			Reason: "this sign-in was started by another Slack user or in another browser; run /deploy link yourself"}, "")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: linkCookie, Path: "/oauth/github/", MaxAge: -1, HttpOnly: true})
	if e := q.Get("error"); e != "" {
		h.refuseLink(w, r, st, &bot.Refusal{Code: CodeLinkDenied, Reason: "GitHub did not authorize: " + e}, "")
		return
	}
	// The token is used for this one call and never stored or logged.
	_, user, err := h.gh.SignIn(ctx, q.Get("code"), st.Verifier, h.public+PathOAuthCallback)
	if err != nil {
		h.log.ErrorContext(ctx, "OAuth callback: reading the GitHub user", slog.String("slack_user", st.User), slog.Any("err", err))
		writePage(w, http.StatusBadGateway, "Tollgate could not confirm your GitHub account with GitHub. Run /deploy link again.")
		return
	}
	if err := h.svc.LinkIdentity(ctx, bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: st.Workspace, User: st.User},
		GitHubLogin: user.Login, GitHubID: user.ID}); err != nil {
		h.log.ErrorContext(ctx, "OAuth callback: saving the link", slog.Any("err", err))
		writePage(w, http.StatusInternalServerError, "Tollgate could not save the link. Run /deploy link again.")
		return
	}
	writePage(w, http.StatusOK, fmt.Sprintf("Your Slack account is now linked to GitHub user %s. You can close this window.", user.Login))
}

// refuseLink audits a refused linking step and shows why. what names the
// secret for the user ("this link"). err is a store error or a *bot.Refusal.
func (h *Handler) refuseLink(w http.ResponseWriter, r *http.Request, st linkstate.State, err error, what string) {
	ref, ok := bot.AsRefusal(err)
	switch {
	case ok:
	case errors.Is(err, linkstate.ErrUsed):
		ref = &bot.Refusal{Code: CodeLinkUsed, Reason: what + " was already used; run /deploy link again"}
	case errors.Is(err, linkstate.ErrExpired):
		ref = &bot.Refusal{Code: CodeLinkExpired, Reason: what + " expired; run /deploy link again"}
	case errors.Is(err, linkstate.ErrUnknown):
		ref = &bot.Refusal{Code: CodeLinkUnknown, Reason: what + " is not valid; run /deploy link again"}
	default:
		h.log.ErrorContext(r.Context(), "OAuth linking: reading state", slog.Any("err", err))
		writePage(w, http.StatusInternalServerError, "Tollgate could not check this link. Try again.")
		return
	}
	subject, actor := "unknown", "unknown"
	if st.User != "" {
		subject = st.Workspace + "/" + st.User
		actor = "slack:" + subject
	}
	aerr := h.store.AppendAudit(r.Context(), bot.AuditEvent{Actor: actor, Action: bot.ActionActionRefused,
		Subject: subject, Data: map[string]any{"action": "identity.link", "code": ref.Code, "reason": ref.Reason,
			"slack_user": subject}})
	if aerr != nil { // fail closed: the refusal stands, but say nothing was recorded
		h.log.ErrorContext(r.Context(), "auditing a refused link", slog.Any("err", aerr))
		writePage(w, http.StatusInternalServerError, "Tollgate could not record this attempt. Try again.")
		return
	}
	h.log.WarnContext(r.Context(), "identity link refused", slog.String("code", string(ref.Code)), slog.String("slack_user", subject))
	writePage(w, http.StatusForbidden, "Refused: "+ref.Reason+".")
}

func withSlash(u string) string { return strings.TrimSuffix(u, "/") + "/" }

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Tollgate</title></head>
<body><h1>Tollgate</h1><p>{{.}}</p></body></html>
`))

// writePage answers a browser with a short HTML page.
func writePage(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, text)
}
