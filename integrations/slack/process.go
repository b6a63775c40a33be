package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/tollgate-dev/tollgate/internal/inbox"
	"log/slog"
	"net/url"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
)

// HandleInboxItem carries out one persisted Slack request (the inbox
// worker calls it for items whose Source is "slack"). Refusals are replied
// to the user and are not errors; an error means the item should be
// retried, which is safe: bot calls are idempotent on the Slack trigger id
// and approvals are compare-and-swap.
func (h *Handler) HandleInboxItem(ctx context.Context, it inbox.Item) error {
	form, err := url.ParseQuery(string(it.Payload))
	if err != nil {
		return fmt.Errorf("slack inbox item %d: decoding form: %w", it.ID, err)
	}
	switch it.EventType {
	case eventCommand:
		return h.runCommand(ctx, slashCommand(form))
	case eventBlockActions, eventViewSubmission:
		var cb slackapi.InteractionCallback
		if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
			return fmt.Errorf("slack inbox item %d: decoding payload: %w", it.ID, err)
		}
		if handled, err := h.runComplianceItem(ctx, it.EventType, &cb); handled {
			return err
		}
		if it.EventType == eventBlockActions {
			return h.runApproveClick(ctx, &cb)
		}
		return h.runRejectSubmission(ctx, &cb)
	}
	return fmt.Errorf("slack inbox item %d: unknown event type %q", it.ID, it.EventType)
}

// runCommand carries out a slash command that needs GitHub or a deploy.
func (h *Handler) runCommand(ctx context.Context, sc slackapi.SlashCommand) error {
	if isAccessReviewCommand(sc.Text) {
		return h.runAccessReview(ctx, sc)
	}
	if isMFACommand(sc.Text) {
		return h.runMFA(ctx, sc)
	}
	log := h.log.With(slog.String("team", sc.TeamID), slog.String("user", sc.UserID), slog.String("trigger", sc.TriggerID))
	repo, _ := h.routing.RepoForChannel(sc.ChannelID)
	cmd, err := bot.ParseSlashCommand(sc.Text, repo)
	if err != nil {
		return h.replyRefusal(ctx, sc.ResponseURL, sc.ChannelID, sc.UserID, err)
	}
	who, err := h.svc.IdentityFor(ctx, slackAccount(sc.TeamID, sc.UserID))
	if err != nil {
		return h.replyRefusal(ctx, sc.ResponseURL, sc.ChannelID, sc.UserID, err)
	}
	text, err := h.execute(ctx, sc, cmd, who)
	if err != nil {
		if _, ok := bot.AsRefusal(err); !ok {
			log.ErrorContext(ctx, "slash command failed", slog.String("command", string(cmd.Kind)), slog.Any("err", err))
		}
		return h.replyRefusal(ctx, sc.ResponseURL, sc.ChannelID, sc.UserID, err)
	}
	h.reply(ctx, sc.ResponseURL, sc.ChannelID, sc.UserID, text)
	return nil
}

// execute calls bot for cmd and returns what to tell the user.
func (h *Handler) execute(ctx context.Context, sc slackapi.SlashCommand, cmd bot.Command, who bot.Identity) (string, error) {
	switch cmd.Kind {
	case bot.CmdDeploy, bot.CmdEmergency, bot.CmdRollback:
		trigger := map[bot.CommandKind]bot.Trigger{bot.CmdDeploy: bot.TriggerSlack,
			bot.CmdEmergency: bot.TriggerEmergency, bot.CmdRollback: bot.TriggerRollback}[cmd.Kind]
		out, err := h.svc.Submit(ctx, bot.NewRequest{SourceKey: "slack:" + sc.TriggerID, Repo: cmd.Repo,
			Environment: cmd.Environment, Ref: cmd.Ref, Trigger: trigger, Requester: who,
			Reason: cmd.Reason, Release: cmd.Release})
		if err != nil {
			return "", err
		}
		return submitted(out), nil
	case bot.CmdLock:
		l, err := h.svc.LockEnvironment(ctx, cmd.Repo, cmd.Environment, who, cmd.Reason, 0)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf(":lock: %s %s is locked by you since %s: %s. `/deploy unlock %s` releases it.",
			esc(cmd.Repo), esc(cmd.Environment), stamp(l.CreatedAt), esc(l.Reason), esc(cmd.Environment)), nil
	case bot.CmdUnlock:
		if err := h.svc.UnlockEnvironment(ctx, cmd.Repo, cmd.Environment, who); err != nil {
			return "", err
		}
		return fmt.Sprintf(":unlock: %s %s is unlocked.", esc(cmd.Repo), esc(cmd.Environment)), nil
	case bot.CmdCancel:
		r, err := h.svc.Cancel(ctx, cmd.RequestID, who)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("Request %s is canceled.", r.ID), nil
	}
	return "", fmt.Errorf("command %s is not handled here", cmd.Kind)
}

// submitted tells the requester what became of their request.
func submitted(out bot.Outcome) string {
	r := out.Request
	prefix := ""
	if !out.Created {
		prefix = "Already received: "
	}
	switch r.State {
	case bot.StateAwaitingApproval:
		return fmt.Sprintf("%sRequest %s: %s `%s` (%s) to %s awaits %d approval(s) until %s; approvers were asked.",
			prefix, r.ID, esc(r.Repo), short(r.SHA), esc(r.Ref), esc(r.Environment), r.RequiredApprovals, stamp(r.ApprovalDeadline))
	case bot.StateRejected:
		return fmt.Sprintf("%sRequest %s was refused: %s", prefix, r.ID, esc(r.StateReason))
	}
	return fmt.Sprintf("%sRequest %s: %s `%s` (%s) to %s is %s.", prefix, r.ID, esc(r.Repo), short(r.SHA), esc(r.Ref),
		esc(r.Environment), stateText(r))
}

// replyRefusal tells the user why their action was refused; an error that
// is not a refusal is returned so the item is retried.
func (h *Handler) replyRefusal(ctx context.Context, responseURL, channel, user string, err error) error {
	ref, ok := bot.AsRefusal(err)
	if !ok {
		return err
	}
	h.reply(ctx, responseURL, channel, user, ":no_entry: "+esc(ref.Reason))
	return nil
}

// reply shows text to one user: through the response_url when Slack gave
// one, else as an ephemeral message in channel. A failure is logged, not
// returned: the action it reports happened, and retrying it would not help.
func (h *Handler) reply(ctx context.Context, responseURL, channel, user, text string) {
	if responseURL != "" && !h.responseURLAllowed(responseURL) {
		h.log.WarnContext(ctx, "response_url is not under the Slack response URL base; replying through the API instead",
			slog.String("host", hostOf(responseURL)), slog.String("base", h.respBase.String()))
		responseURL = ""
	}
	if responseURL != "" {
		err := slackapi.PostWebhookCustomHTTPContext(ctx, responseURL, h.respHTTP, &slackapi.WebhookMessage{
			Text: text, ResponseType: slackapi.ResponseTypeEphemeral})
		if err == nil {
			return
		}
		h.log.WarnContext(ctx, "response_url post failed; posting ephemeral instead", slog.Any("err", err))
	}
	if _, err := h.api.PostEphemeralContext(ctx, channel, user, slackapi.MsgOptionText(text, false)); err != nil {
		h.log.ErrorContext(ctx, "could not reply to a Slack user", slog.String("user", user),
			slog.String("channel", channel), slog.Any("err", err))
	}
}
