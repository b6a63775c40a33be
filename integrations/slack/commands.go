package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/reqlog"
)

// Inbox event types of persisted Slack requests.
const (
	eventCommand        = "command"
	eventBlockActions   = "block_actions"
	eventViewSubmission = "view_submission"
)

// CodeUnknownRepo refuses a command naming a repository Tollgate does not deploy.
const CodeUnknownRepo bot.RefusalCode = "unknown_repository"

// ServeCommands answers POST /slack/commands. Commands that need no GitHub
// or SSH call (help, link, whoami, unlink, status, history, and anything
// that does not parse or names an environment that does not exist) are
// answered at once; the rest are persisted, acknowledged, and carried out
// by HandleInboxItem, which replies through the response_url.
func (h *Handler) ServeCommands(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readVerified(w, r)
	if !ok {
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		http.Error(w, "malformed form body", http.StatusBadRequest)
		return
	}
	sc := slashCommand(form)
	ctx := r.Context()
	reqlog.AddAttrs(ctx, slog.String("slack_team", sc.TeamID), slog.String("slack_user", sc.UserID), slog.String("slack_command", clipForLog(sc.Command)))
	text, err := h.answerCommand(ctx, sc, body)
	if err != nil {
		h.log.ErrorContext(ctx, "slash command failed", slog.String("team", sc.TeamID), slog.String("user", sc.UserID), slog.Any("err", err))
		text = "Tollgate could not take this command (an internal error was logged); nothing was done. Try again."
	}
	writeEphemeral(w, text)
}

// slashCommand reads the fields Slack sends for a slash command.
func slashCommand(form url.Values) slackapi.SlashCommand {
	return slackapi.SlashCommand{
		TeamID: form.Get("team_id"), TeamDomain: form.Get("team_domain"), ChannelID: form.Get("channel_id"),
		ChannelName: form.Get("channel_name"), UserID: form.Get("user_id"), UserName: form.Get("user_name"),
		Command: form.Get("command"), Text: form.Get("text"), ResponseURL: form.Get("response_url"),
		TriggerID: form.Get("trigger_id"), APIAppID: form.Get("api_app_id"),
	}
}

// answerCommand decides what can be answered now, and persists the rest.
func (h *Handler) answerCommand(ctx context.Context, sc slackapi.SlashCommand, body []byte) (string, error) {
	if isAccessReviewCommand(sc.Text) {
		return h.answerAccessReview(ctx, sc, body)
	}
	if isMFACommand(sc.Text) {
		return h.answerMFA(ctx, sc, body)
	}
	repo, _ := h.routing.RepoForChannel(sc.ChannelID)
	cmd, err := bot.ParseSlashCommand(sc.Text, repo)
	if ref, ok := bot.AsRefusal(err); ok {
		return esc(ref.Reason), nil
	}
	if err != nil {
		return "", fmt.Errorf("parsing %q: %w", sc.Text, err)
	}
	reqlog.AddAttrs(ctx, slog.String("subcommand", string(cmd.Kind)))
	switch cmd.Kind {
	case bot.CmdHelp:
		return helpText(), nil
	case bot.CmdLink:
		return h.startLink(ctx, sc.TeamID, sc.UserID)
	case bot.CmdWhoami:
		return h.whoami(ctx, sc.TeamID, sc.UserID)
	case bot.CmdUnlink:
		err := h.svc.Unlink(ctx, slackAccount(sc.TeamID, sc.UserID))
		if ref, ok := bot.AsRefusal(err); ok {
			return esc(ref.Reason), nil
		}
		if err != nil {
			return "", err
		}
		return "Your Slack account is no longer linked to a GitHub account. `/deploy link` links it again.", nil
	}
	who, err := h.svc.IdentityFor(ctx, slackAccount(sc.TeamID, sc.UserID))
	if ref, ok := bot.AsRefusal(err); ok {
		return esc(ref.Reason), nil
	}
	if err != nil {
		return "", err
	}
	if msg, err := h.checkTarget(ctx, who, cmd); msg != "" || err != nil {
		return msg, err
	}
	switch cmd.Kind {
	case bot.CmdStatus:
		return h.status(ctx, cmd)
	case bot.CmdHistory:
		return h.history(ctx, cmd)
	case bot.CmdEmergency:
		if _, needed := h.svc.EmergencyNeedsMFA(cmd.Repo, cmd.Environment); needed {
			return h.emergencyLink(ctx, sc, cmd)
		}
	}
	if err := h.enqueue(ctx, eventCommand, body); err != nil {
		return "", err
	}
	return fmt.Sprintf("Working on `%s` …", esc(sc.Command+" "+sc.Text)), nil
}

// checkTarget refuses (audited) a command naming a repository or
// environment that is not configured, listing what exists; nothing is created.
func (h *Handler) checkTarget(ctx context.Context, who bot.Identity, cmd bot.Command) (string, error) {
	if cmd.Repo == "" {
		return "", nil
	}
	var code bot.RefusalCode
	var reason string
	switch repos := h.routing.Repositories(); {
	case !slices.Contains(repos, cmd.Repo):
		code, reason = CodeUnknownRepo, fmt.Sprintf("Tollgate does not deploy %s; it deploys: %s", cmd.Repo, listOrNone(repos))
	case cmd.Environment != "" && !slices.Contains(h.routing.Environments(cmd.Repo), cmd.Environment):
		code, reason = bot.CodeUnknownEnv, fmt.Sprintf("%s has no environment %q; it has: %s",
			cmd.Repo, cmd.Environment, listOrNone(h.routing.Environments(cmd.Repo)))
	default:
		return "", nil
	}
	err := h.store.AppendAudit(ctx, bot.AuditEvent{Actor: who.Login, Action: bot.ActionActionRefused,
		Subject: strings.TrimSpace(cmd.Repo + " " + cmd.Environment), Data: map[string]any{
			"action": "slack." + string(cmd.Kind), "code": code, "reason": reason,
			"github_id": who.GitHubID, "slack_user": who.ChatUser}})
	if err != nil {
		return "", fmt.Errorf("auditing refused %s on %s: %w", cmd.Kind, cmd.Repo, err)
	}
	return esc(reason), nil
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "(none)"
	}
	return strings.Join(xs, ", ")
}

// helpText is /deploy help.
func helpText() string {
	return "*Tollgate* deploys through approvals. Commands:\n```\n" + bot.Usage() + "\n" + accessReviewUsage + "\n" + mfaUsage + "\n```\n" +
		"Link your GitHub account first with `/deploy link`; `[owner/repo]` may be left out in a channel mapped to one repository."
}

// whoami tells a Slack user which GitHub account they act as.
func (h *Handler) whoami(ctx context.Context, team, user string) (string, error) {
	l, err := h.store.LinkFor(ctx, slackAccount(team, user))
	if err != nil {
		if isNotFound(err) {
			return "Your Slack account is not linked to a GitHub account. `/deploy link` links it.", nil
		}
		return "", err
	}
	return fmt.Sprintf("You act as GitHub user *%s* (id %d), linked %s.", esc(l.GitHubLogin), l.GitHubID,
		l.LinkedAt.UTC().Format("2006-01-02 15:04 UTC")), nil
}

// ephemeral is the JSON answer to a slash command that only its user sees.
type ephemeral struct {
	ResponseType string `json:"response_type"`
	Text         string `json:"text"`
}

func writeEphemeral(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(ephemeral{ResponseType: "ephemeral", Text: text})
}

// clipForLog bounds a request value before it is logged.
func clipForLog(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
