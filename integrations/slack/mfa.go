package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/mfastate"
	"github.com/tollgate-dev/tollgate/internal/oauth"
)

// Security keys from Slack (issue 14): /deploy mfa register answers with
// a one-time link to Tollgate's page that registers a key; list, remove
// and (for admins) revoke are answered here. The pages live in
// integrations/web; their paths are repeated below, and the serve
// end-to-end test follows these links through the real server.

// mfaCommand is `/deploy mfa …`.
const mfaCommand = "mfa"

// mfaUsage is its lines in /deploy help.
const mfaUsage = "/deploy mfa register   (a one-time link to register a security key or passkey)\n" +
	"/deploy mfa list | remove NAME\n" +
	"/deploy mfa revoke LOGIN NAME REASON…   (members of teams.admins)"

// Paths of the web's security key pages (integrations/web).
const (
	pathMFARegister  = "/mfa/register"
	pathMFAApprove   = "/mfa/approve/"
	pathMFAReview    = "/mfa/review/"
	pathMFAEmergency = "/mfa/emergency"
)

// MFALinkTTL is how long a link to register a key, or to confirm an
// emergency change, stays valid.
const MFALinkTTL = 10 * time.Minute

func isMFACommand(text string) bool {
	f := strings.Fields(text)
	return len(f) > 0 && strings.EqualFold(f[0], mfaCommand)
}

// answerMFA answers /deploy mfa at once; revoke, which asks GitHub who
// the admins are, is persisted and carried out by runMFA.
func (h *Handler) answerMFA(ctx context.Context, sc slackapi.SlashCommand, body []byte) (string, error) {
	f := strings.Fields(sc.Text)
	who, err := h.svc.IdentityFor(ctx, slackAccount(sc.TeamID, sc.UserID))
	if ref, ok := bot.AsRefusal(err); ok {
		return ref.Reason, nil
	}
	if err != nil {
		return "", err
	}
	switch {
	case len(f) == 2 && strings.EqualFold(f[1], "register"):
		return h.mfaRegisterLink(ctx, sc.TeamID, sc.UserID)
	case len(f) == 2 && strings.EqualFold(f[1], "list"):
		return h.mfaList(ctx, who)
	case len(f) == 3 && strings.EqualFold(f[1], "remove"):
		err := h.svc.RemoveMFACredential(ctx, who, f[2])
		if ref, ok := bot.AsRefusal(err); ok {
			return ref.Reason, nil
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Security key `%s` is removed; it no longer approves anything.", esc(f[2])), nil
	case len(f) >= 5 && strings.EqualFold(f[1], "revoke"):
		if err := h.enqueue(ctx, eventCommand, body); err != nil {
			return "", err
		}
		return fmt.Sprintf("Working on revoking `%s` of %s … (checking you are an admin)", esc(f[3]), esc(f[2])), nil
	}
	return "usage:\n" + mfaUsage, nil
}

// runMFA carries out /deploy mfa revoke LOGIN NAME REASON….
func (h *Handler) runMFA(ctx context.Context, sc slackapi.SlashCommand) error {
	f := strings.Fields(sc.Text)
	who, err := h.svc.IdentityFor(ctx, slackAccount(sc.TeamID, sc.UserID))
	if err != nil {
		return h.replyRefusal(ctx, sc.ResponseURL, sc.ChannelID, sc.UserID, err)
	}
	if len(f) < 5 {
		h.reply(ctx, sc.ResponseURL, sc.ChannelID, sc.UserID, "usage:\n"+mfaUsage)
		return nil
	}
	login, name, reason := strings.TrimPrefix(f[2], "@"), f[3], strings.Join(f[4:], " ")
	if err := h.svc.RevokeMFACredential(ctx, who, login, name, reason); err != nil {
		return h.replyRefusal(ctx, sc.ResponseURL, sc.ChannelID, sc.UserID, err)
	}
	h.reply(ctx, sc.ResponseURL, sc.ChannelID, sc.UserID,
		fmt.Sprintf(":closed_lock_with_key: Revoked security key `%s` of %s: %s", esc(name), esc(login), esc(reason)))
	return nil
}

// mfaRegisterLink mints the one-time link to the registration page.
func (h *Handler) mfaRegisterLink(ctx context.Context, team, user string) (string, error) {
	if h.mfa == nil {
		return "Security keys are not set up on this Tollgate (the web pages need github.oauth_client_id).", nil
	}
	key, now := oauth.NewSecret(), h.now().UTC()
	if err := h.mfa.SaveMFAState(ctx, mfastate.State{Kind: mfastate.KindRegisterLink, Key: key, Workspace: team, User: user,
		Subject: team + "/" + user, CreatedAt: now, ExpiresAt: now.Add(MFALinkTTL)}); err != nil {
		return "", err
	}
	return fmt.Sprintf("<%s|Register a security key or passkey> — sign in with GitHub as the account linked to you; "+
		"this link is for you only, works once, and expires in %d minutes.",
		h.public+pathMFARegister+"?t="+url.QueryEscape(key), int(MFALinkTTL/time.Minute)), nil
}

// mfaList lists the caller's keys.
func (h *Handler) mfaList(ctx context.Context, who bot.Identity) (string, error) {
	cs, err := h.svc.MFACredentials(ctx, who.GitHubID)
	if err != nil {
		return "", err
	}
	if len(cs) == 0 {
		return "You have no security key registered. `/deploy mfa register` registers one.", nil
	}
	lines := []string{fmt.Sprintf("Your security keys (%s):", esc(who.Login))}
	for _, c := range cs {
		used := "never used"
		if !c.LastUsedAt.IsZero() {
			used = "last used " + stamp(c.LastUsedAt)
		}
		lines = append(lines, fmt.Sprintf("• `%s` registered %s, %s", esc(c.Name), stamp(c.CreatedAt), used))
	}
	return strings.Join(lines, "\n"), nil
}

// emergencyLink answers an emergency change that needs the requester's
// security key: a one-time link to the page where they confirm it.
func (h *Handler) emergencyLink(ctx context.Context, sc slackapi.SlashCommand, cmd bot.Command) (string, error) {
	if h.mfa == nil {
		return "Emergency changes to " + esc(cmd.Environment) + " need a security key, which this Tollgate cannot ask for " +
			"(the web pages need github.oauth_client_id).", nil
	}
	data, err := json.Marshal(mfastate.EmergencyAsk{SourceKey: "slack:" + sc.TriggerID, Repo: cmd.Repo,
		Environment: cmd.Environment, Ref: cmd.Ref, Reason: cmd.Reason})
	if err != nil {
		return "", err
	}
	key, now := oauth.NewSecret(), h.now().UTC()
	if err := h.mfa.SaveMFAState(ctx, mfastate.State{Kind: mfastate.KindEmergencyLink, Key: key, Workspace: sc.TeamID,
		User: sc.UserID, Subject: "slack:" + sc.TriggerID, Data: data, CreatedAt: now, ExpiresAt: now.Add(MFALinkTTL)}); err != nil {
		return "", err
	}
	return fmt.Sprintf(":rotating_light: Emergency changes to *%s* need your security key. <%s|Confirm this one on Tollgate> — "+
		"the page shows what will be deployed; the link is for you only, works once, and expires in %d minutes.",
		esc(cmd.Environment), h.public+pathMFAEmergency+"?t="+url.QueryEscape(key), int(MFALinkTTL/time.Minute)), nil
}
