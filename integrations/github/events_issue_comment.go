package github

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/tollgate-dev/tollgate/bot"
)

// onIssueComment runs the PR comment commands /deploy, /deploy rollback,
// /approve and /reject. Only new comments count: a comment edited after
// the fact could otherwise turn into a command nobody saw.
//
// A command costs its author's standing first (issue 15): someone who
// used up their refusals is dropped with no API call; someone who is
// neither an organisation member nor a collaborator with write access
// leaves one audit line (rate-limited), gets no reaction or reply, and
// nothing else is fetched or stored.
func (d *Dispatcher) onIssueComment(ctx context.Context, dl hookDelivery, e *github.IssueCommentEvent) error {
	if e.GetAction() != "created" || e.GetIssue().GetPullRequestLinks() == nil {
		return nil
	}
	author := e.GetComment().GetUser()
	if author.GetType() == "Bot" {
		return nil // bots, Tollgate included, do not give commands
	}
	repo, number, commentID := e.GetRepo().GetFullName(), e.GetIssue().GetNumber(), e.GetComment().GetID()
	cmd, ok, err := bot.ParseComment(e.GetComment().GetBody(), repo)
	if !ok {
		return nil
	}
	dl.log = dl.log.With("pr", number, "comment", commentID, "command", cmd.Kind)
	who := webhookIdentity(author)
	if exhausted, xerr := d.bot.RefusalsExhausted(ctx, who); xerr != nil {
		return xerr
	} else if exhausted {
		dl.log.Info("comment command dropped: its author used up their refusals", "login", who.Login)
		return nil
	}
	standing, serr := d.hasStanding(ctx, repo, author, e.GetComment().GetAuthorAssociation())
	if serr != nil {
		return serr
	}
	if !standing {
		recorded, rerr := d.bot.RefuseOutsider(ctx, who, "comment."+string(commandKind(cmd)), fmt.Sprintf("%s#%d", repo, number))
		if rerr != nil {
			return rerr
		}
		dl.log.Info("comment command ignored: author is not an organisation member or a collaborator with write access",
			"login", who.Login, "association", e.GetComment().GetAuthorAssociation(), "recorded", recorded)
		return nil
	}
	if rerr := d.reactor.ReactEyes(ctx, repo, commentID); rerr != nil {
		// The command matters more than the acknowledgement.
		dl.log.Warn("could not add the 👀 reaction", "err", rerr)
	}
	if err == nil {
		err = d.runCommentCommand(ctx, dl, repo, commentID, cmd, who)
	}
	if ref, ok := bot.AsRefusal(err); ok {
		dl.log.Info("comment command refused", "code", ref.Code, "reason", ref.Reason, "throttled", ref.Throttled)
		if !ref.Throttled {
			d.reply(ctx, dl, repo, number, fmt.Sprintf("@%s %s", who.Login, ref.Reason))
		}
		return nil
	}
	return err
}

// commandKind names a command for the audit line, "unknown" for one that
// did not parse.
func commandKind(c bot.Command) bot.CommandKind {
	if c.Kind == "" {
		return "unknown"
	}
	return c.Kind
}

// runCommentCommand hands a parsed command to the domain.
func (d *Dispatcher) runCommentCommand(ctx context.Context, dl hookDelivery, repo string, commentID int64, cmd bot.Command, who bot.Identity) error {
	key := fmt.Sprintf("comment:%s:%d", repo, commentID) // one comment, one request
	switch cmd.Kind {
	case bot.CmdDeploy:
		out, err := d.bot.Submit(ctx, bot.NewRequest{SourceKey: key, Repo: repo, Environment: cmd.Environment,
			Ref: cmd.Ref, Trigger: bot.TriggerComment, Requester: who, Reason: cmd.Reason})
		if err == nil {
			dl.log.Info("deploy request from a comment", "request", out.Request.ID, "created", out.Created)
		}
		return err
	case bot.CmdRollback:
		out, err := d.bot.Submit(ctx, bot.NewRequest{SourceKey: key, Repo: repo, Environment: cmd.Environment,
			Trigger: bot.TriggerRollback, Requester: who, Release: cmd.Release, Reason: "rollback requested on a PR"})
		if err == nil {
			dl.log.Info("rollback request from a comment", "request", out.Request.ID, "created", out.Created)
		}
		return err
	case bot.CmdApprove, bot.CmdReject:
		if err := d.requireRequestIn(ctx, repo, cmd.RequestID); err != nil {
			return err
		}
		if cmd.Kind == bot.CmdApprove {
			_, err := d.bot.Approve(ctx, bot.ApproveInput{RequestID: cmd.RequestID, Approver: who})
			return err
		}
		_, err := d.bot.Reject(ctx, cmd.RequestID, who, cmd.Reason)
		return err
	}
	return nil
}

// requireRequestIn refuses a comment that acts on a request of another
// repository: a PR comment speaks for its own repository only.
func (d *Dispatcher) requireRequestIn(ctx context.Context, repo, id string) error {
	r, err := d.bot.Request(ctx, id)
	if err != nil && !errors.Is(err, bot.ErrNotFound) {
		return err
	}
	if err != nil || !strings.EqualFold(r.Repo, repo) {
		return &bot.Refusal{Code: bot.CodeWrongState, Reason: fmt.Sprintf("there is no request %s in %s", id, repo)}
	}
	return nil
}

// reply answers on the PR when a replier is wired. A failed reply is
// logged, not retried: retrying would run the command again.
func (d *Dispatcher) reply(ctx context.Context, dl hookDelivery, repo string, number int, body string) {
	if d.replier == nil {
		return
	}
	if err := d.replier.ReplyToComment(ctx, repo, number, body); err != nil {
		dl.log.Warn("could not reply on the PR", "err", err)
	}
}
