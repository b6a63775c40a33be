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

// Linking a Slack user to a GitHub account needs both identities proved
// in one browser session (issue 10): whoever opens a /deploy link URL
// first signs in with Slack (OpenID Connect), and must be the Slack user
// who ran /deploy link, same workspace and user id; only then does the
// browser go on to GitHub's OAuth sign-in, whose account is linked. A
// link forwarded to someone else therefore links nothing: they sign in to
// Slack as themselves and are refused, told why.
//
// The link itself is a one-time secret in the database (single use,
// bound to the Slack user who asked); the sign-ins' state (which Slack
// user, OAuth states, PKCE verifiers, the nonce, the Slack proof) lives
// sealed in the browser's link cookie (oauth.Seal, keyed from the Slack
// app's client secret), which binds both legs to that browser.

// LinkTTL is how long a /deploy link URL, and the sign-ins it starts, stay valid.
const LinkTTL = 10 * time.Minute

// linkCookie carries the linking session, sealed, from the start to the
// GitHub callback, in the browser that opened the link.
const linkCookie = "tollgate_link"

// linkSealPurpose keys the link cookie apart from other uses of the secret.
const linkSealPurpose = "tollgate slack link session v1"

// Refusal codes of the linking flow (audited as action.refused).
const (
	CodeLinkUnknown   bot.RefusalCode = "link_unknown"
	CodeLinkUsed      bot.RefusalCode = "link_used"
	CodeLinkExpired   bot.RefusalCode = "link_expired"
	CodeLinkOtherUser bot.RefusalCode = "link_other_user"
	CodeLinkDenied    bot.RefusalCode = "link_denied"
)

// Stages of a linking session.
const (
	stageSlack  = "slack"  // waiting for Sign in with Slack
	stageGitHub = "github" // Slack proved; waiting for GitHub
)

// linkSession is what the link cookie holds.
type linkSession struct {
	Team     string      `json:"t"` // the Slack user who ran /deploy link
	User     string      `json:"u"`
	Stage    string      `json:"g"`
	State    string      `json:"s"` // the current leg's OAuth state
	Verifier string      `json:"v"` // its PKCE verifier
	Nonce    string      `json:"n,omitempty"`
	Slack    *slackProof `json:"p,omitempty"` // set once Slack vouched for the user
	Expires  time.Time   `json:"e"`
}

// slackProof is what Sign in with Slack vouched for.
type slackProof struct {
	Subject string    `json:"sub"`
	At      time.Time `json:"at"`
}

// linkingReady says why linking cannot work on this Tollgate, or "".
func (h *Handler) linkingReady() string {
	switch {
	case h.gh.ClientID == "":
		return "Linking is not set up on this Tollgate (github.oauth_client_id is missing)."
	case !h.sl.Configured() || h.seal == nil:
		return "Linking is not set up on this Tollgate (slack.client_id and slack.client_secret are missing: " +
			"your Slack account is proved with Sign in with Slack)."
	}
	return ""
}

// startLink mints the one-time link /deploy link hands to a Slack user.
func (h *Handler) startLink(ctx context.Context, team, user string) (string, error) {
	if why := h.linkingReady(); why != "" {
		return why, nil
	}
	key := oauth.NewSecret()
	now := h.now().UTC()
	if err := h.store.SaveOAuthState(ctx, linkstate.State{Kind: linkstate.KindLink, Key: key, Workspace: team,
		User: user, CreatedAt: now, ExpiresAt: now.Add(LinkTTL)}); err != nil {
		return "", err
	}
	link := h.public + PathOAuthStart + "?token=" + url.QueryEscape(key)
	return fmt.Sprintf("<%s|Link your GitHub account> — this link is for you only: you sign in to Slack, then to GitHub. "+
		"It works once and expires in %d minutes.", link, int(LinkTTL/time.Minute)), nil
}

// ServeLinkStart answers GET /oauth/link/start?token=…: it uses the
// one-time link and sends the browser to Sign in with Slack, for the
// workspace of the Slack user the link was made for.
func (h *Handler) ServeLinkStart(w http.ResponseWriter, r *http.Request) {
	if why := h.linkingReady(); why != "" {
		writePage(w, http.StatusServiceUnavailable, why)
		return
	}
	ctx := r.Context()
	now := h.now().UTC()
	token := r.URL.Query().Get("token")
	if len(token) != len(oauth.NewSecret()) { // not one Tollgate minted: no need to ask the database
		h.refuseLink(w, r, linkSession{}, linkstate.ErrUnknown, "this link")
		return
	}
	link, err := h.store.ConsumeOAuthState(ctx, linkstate.KindLink, token, now)
	if err != nil {
		h.refuseLink(w, r, linkSession{Team: link.Workspace, User: link.User}, err, "this link")
		return
	}
	flow := h.sl.Start(h.public+PathSlackCallback, link.Workspace)
	h.continueLink(w, r, linkSession{Team: link.Workspace, User: link.User, Stage: stageSlack, State: flow.State,
		Verifier: flow.Verifier, Nonce: flow.Nonce, Expires: now.Add(LinkTTL)}, flow.URL)
}

// ServeSlackCallback answers GET /oauth/slack/callback: Slack says who
// signed in. Only the Slack user the link was made for goes on, to GitHub.
func (h *Handler) ServeSlackCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess, ok := h.linkSessionAt(w, r, stageSlack)
	if !ok {
		return
	}
	su, err := h.sl.SignIn(ctx, r.URL.Query().Get("code"), sess.Verifier, sess.Nonce, h.public+PathSlackCallback)
	if err != nil {
		h.log.ErrorContext(ctx, "linking: Sign in with Slack", slog.String("slack_user", sess.Team+"/"+sess.User), slog.Any("err", err))
		writePage(w, http.StatusBadGateway, "Tollgate could not confirm your Slack account with Slack. Run /deploy link again.")
		return
	}
	if su.TeamID != sess.Team || su.UserID != sess.User {
		h.clearLinkCookie(w)
		h.refuseLink(w, r, sess, &bot.Refusal{Code: CodeLinkOtherUser, Reason: fmt.Sprintf(
			"this link was made for another Slack user (%s); you signed in to Slack as %s/%s. "+
				"Nothing was linked: run /deploy link yourself", sess.Team+"/"+sess.User, su.TeamID, su.UserID)}, "",
			slog.String("signed_in_as", su.TeamID+"/"+su.UserID))
		return
	}
	flow := h.gh.Start(h.public+PathOAuthCallback, nil, nil)
	h.continueLink(w, r, linkSession{Team: sess.Team, User: sess.User, Stage: stageGitHub, State: flow.State,
		Verifier: flow.Verifier, Slack: &slackProof{Subject: su.Subject, At: h.now().UTC()},
		Expires: h.now().UTC().Add(LinkTTL)}, flow.URL)
}

// ServeOAuthCallback answers GET /oauth/github/callback: GitHub says who
// the account is, and, the Slack side proved in this same browser, the
// two are linked.
func (h *Handler) ServeOAuthCallback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	sess, ok := h.linkSessionAt(w, r, stageGitHub)
	if !ok {
		return
	}
	h.clearLinkCookie(w)
	// The token is used for this one call and never stored or logged.
	_, user, err := h.gh.SignIn(ctx, r.URL.Query().Get("code"), sess.Verifier, h.public+PathOAuthCallback)
	if err != nil {
		h.log.ErrorContext(ctx, "OAuth callback: reading the GitHub user", slog.String("slack_user", sess.User), slog.Any("err", err))
		writePage(w, http.StatusBadGateway, "Tollgate could not confirm your GitHub account with GitHub. Run /deploy link again.")
		return
	}
	chat := bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: sess.Team, User: sess.User}
	now := h.now().UTC()
	l := bot.Link{Chat: chat, GitHubLogin: user.Login, GitHubID: user.ID, Proofs: []bot.IdentityProof{
		{Side: bot.ProofChat, Method: "slack_openid_connect", Account: chat.Workspace + "/" + chat.User,
			Subject: sess.Slack.Subject, At: sess.Slack.At},
		{Side: bot.ProofGitHub, Method: "github_oauth_pkce", Account: user.Login, Subject: fmt.Sprint(user.ID), At: now},
	}}
	if err := h.svc.LinkIdentity(ctx, l); err != nil {
		h.log.ErrorContext(ctx, "OAuth callback: saving the link", slog.Any("err", err))
		writePage(w, http.StatusInternalServerError, "Tollgate could not save the link. Run /deploy link again.")
		return
	}
	writePage(w, http.StatusOK, fmt.Sprintf("Your Slack account (%s) is now linked to GitHub user %s. You can close this window.",
		chat.Workspace+"/"+chat.User, user.Login))
}

// continueLink seals sess into the link cookie and sends the browser on.
func (h *Handler) continueLink(w http.ResponseWriter, r *http.Request, sess linkSession, next string) {
	sealed, err := h.seal.Seal(linkCookie, sess)
	if err != nil {
		h.log.ErrorContext(r.Context(), "linking: sealing the session", slog.Any("err", err))
		writePage(w, http.StatusInternalServerError, "Tollgate could not start the sign-in. Run /deploy link again.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: linkCookie, Value: sealed, Path: "/oauth/",
		MaxAge: int(LinkTTL / time.Second), HttpOnly: true, Secure: strings.HasPrefix(h.public, "https://"),
		SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, next, http.StatusFound)
}

// linkSessionAt opens this browser's linking session at a callback of
// stage: it must have been started in this browser, be at that stage,
// carry the state the identity provider brought back, and not have
// expired; the provider must not have reported an error. Otherwise the
// attempt is refused (and audited when it names a Slack user).
func (h *Handler) linkSessionAt(w http.ResponseWriter, r *http.Request, stage string) (linkSession, bool) {
	q := r.URL.Query()
	var sess linkSession
	c, _ := r.Cookie(linkCookie)
	if c == nil || h.seal.Open(linkCookie, c.Value, &sess) != nil || sess.Stage != stage || sess.State == "" ||
		sess.State != q.Get("state") {
		if q.Get("state") == "" && c == nil {
			writePage(w, http.StatusForbidden, "Refused: this sign-in is not valid; run /deploy link again.")
			return linkSession{}, false
		}
		h.refuseLink(w, r, sess, &bot.Refusal{Code: CodeLinkOtherUser,
			Reason: "this sign-in was started in another browser, or by another Slack user, or was already used; run /deploy link yourself"}, "")
		return linkSession{}, false
	}
	if !h.now().Before(sess.Expires) {
		h.clearLinkCookie(w)
		h.refuseLink(w, r, sess, linkstate.ErrExpired, "this sign-in")
		return linkSession{}, false
	}
	if e := q.Get("error"); e != "" {
		h.clearLinkCookie(w)
		who := map[string]string{stageSlack: "Slack", stageGitHub: "GitHub"}[stage]
		h.refuseLink(w, r, sess, &bot.Refusal{Code: CodeLinkDenied, Reason: who + " did not authorize: " + e}, "")
		return linkSession{}, false
	}
	if stage == stageGitHub && sess.Slack == nil {
		h.refuseLink(w, r, sess, &bot.Refusal{Code: CodeLinkOtherUser, Reason: "your Slack account was not confirmed; run /deploy link again"}, "")
		return linkSession{}, false
	}
	return sess, true
}

func (h *Handler) clearLinkCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: linkCookie, Path: "/oauth/", MaxAge: -1, HttpOnly: true,
		Secure: strings.HasPrefix(h.public, "https://"), SameSite: http.SameSiteLaxMode})
}

// refuseLink audits a refused linking step that names a Slack user and
// shows why. what names the secret for the user ("this link"). err is a
// store error or a *bot.Refusal. An unknown link names nobody: it is
// answered and logged on the access line, not audited, so anonymous
// requests cannot grow the audit log.
func (h *Handler) refuseLink(w http.ResponseWriter, r *http.Request, sess linkSession, err error, what string, extra ...slog.Attr) {
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
		h.log.ErrorContext(r.Context(), "linking: reading state", slog.Any("err", err))
		writePage(w, http.StatusInternalServerError, "Tollgate could not check this link. Try again.")
		return
	}
	if sess.User != "" {
		subject := sess.Team + "/" + sess.User
		data := map[string]any{"action": "identity.link", "code": ref.Code, "reason": ref.Reason, "slack_user": subject}
		for _, a := range extra {
			data[a.Key] = a.Value.String()
		}
		aerr := h.store.AppendAudit(r.Context(), bot.AuditEvent{Actor: "slack:" + subject, Action: bot.ActionActionRefused,
			Subject: subject, Data: data})
		if aerr != nil { // fail closed: the refusal stands, but say nothing was recorded
			h.log.ErrorContext(r.Context(), "auditing a refused link", slog.Any("err", aerr))
			writePage(w, http.StatusInternalServerError, "Tollgate could not record this attempt. Try again.")
			return
		}
	}
	h.log.WarnContext(r.Context(), "identity link refused", append([]any{slog.String("code", string(ref.Code)),
		slog.String("slack_user", sess.Team+"/"+sess.User)}, attrsAny(extra)...)...)
	writePage(w, http.StatusForbidden, "Refused: "+ref.Reason+".")
}

func attrsAny(as []slog.Attr) []any {
	out := make([]any, len(as))
	for i, a := range as {
		out[i] = a
	}
	return out
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
