package github

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/go-github/v60/github"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/inbox"
)

// BotService is the part of the domain GitHub events drive; *bot.Service
// satisfies it.
type BotService interface {
	Submit(ctx context.Context, in bot.NewRequest) (bot.Outcome, error)
	Request(ctx context.Context, id string) (bot.Request, error)
	Approve(ctx context.Context, in bot.ApproveInput) (bot.Request, error)
	Reject(ctx context.Context, id string, by bot.Identity, reason string) (bot.Request, error)
	// RefusalsExhausted and RefuseOutsider bound what commands of people
	// without standing cost (refusal_limits.go in bot).
	RefusalsExhausted(ctx context.Context, who bot.Identity) (bool, error)
	RefuseOutsider(ctx context.Context, who bot.Identity, action, subject string) (recorded bool, err error)

	// Routing: which environments an event asks for. The domain answers
	// from the policies in force; the transport never reads configuration.
	ForMerge(repo, branch string) []string
	ForLabel(repo, label string) (env string, ok bool)
	ForDeploymentEvent(repo, env string) bool
}

// CommentReactor marks a comment as seen with 👀.
type CommentReactor interface {
	ReactEyes(ctx context.Context, repo string, commentID int64) error
}

// CommentReplier answers a PR comment command whose refusal no request
// notification carries (a bad command, a refused approval).
type CommentReplier interface {
	ReplyToComment(ctx context.Context, repo string, number int, body string) error
}

// MembershipCache is the team membership cache behind bot.Directory;
// membership webhooks drop a person's entries so the next decision asks
// GitHub again.
type MembershipCache interface {
	Invalidate(login string)
}

// CommenterStanding answers whether a commenter may give Tollgate
// commands at all: a member of the organisation, or a collaborator with
// write access. *Roster implements it.
type CommenterStanding interface {
	IsOrgMember(ctx context.Context, org, login string) (bool, error)
	RepoPermission(ctx context.Context, repo, login string) (string, error)
}

// AccessChanges decides what a person leaving a team or the organisation
// costs them in Tollgate; *bot.AccessReviews implements it.
type AccessChanges interface {
	TeamMemberRemoved(ctx context.Context, who bot.Identity, org, team, source string) (bot.AccessLoss, error)
	OrgMemberRemoved(ctx context.Context, who bot.Identity, org, source string) (bot.AccessLoss, error)
}

// AuditAppender appends audit events that go with no request;
// *store.Store satisfies it.
type AuditAppender interface {
	AppendAudit(ctx context.Context, events ...bot.AuditEvent) error
}

// DispatcherConfig is what a Dispatcher needs. Replier may be nil.
type DispatcherConfig struct {
	Bot BotService
	// AppID is Tollgate's own GitHub App id, to recognise its own deployments.
	AppID   int64
	Reactor CommentReactor
	Replier CommentReplier
	Members MembershipCache
	Audit   AuditAppender
	Logger  *slog.Logger
	// Access returns the access controls of the configuration in force,
	// for membership and organization webhooks; nil, or an error, leaves
	// those webhooks refreshing the membership cache only.
	Access func() (AccessChanges, error)
	// Standing checks commenters live; nil trusts only the comment's
	// author_association OWNER or MEMBER (GitHub's, in the signed payload).
	Standing CommenterStanding
}

// Dispatcher turns stored GitHub deliveries into bot calls. Its Handle is
// the inbox.Handler for the "github" source.
type Dispatcher struct {
	bot     BotService
	appID   int64
	reactor CommentReactor
	replier CommentReplier
	members MembershipCache
	audit   AuditAppender
	log     *slog.Logger
	access  func() (AccessChanges, error)
	stand   CommenterStanding
}

// NewDispatcher returns a Dispatcher, or an error naming the missing dependency.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	switch {
	case cfg.Bot == nil:
		return nil, errors.New("github dispatcher: Bot is required")
	case cfg.Reactor == nil:
		return nil, errors.New("github dispatcher: Reactor is required")
	case cfg.Members == nil:
		return nil, errors.New("github dispatcher: Members is required")
	case cfg.Audit == nil:
		return nil, errors.New("github dispatcher: Audit is required")
	}
	d := &Dispatcher{bot: cfg.Bot, appID: cfg.AppID, reactor: cfg.Reactor, replier: cfg.Replier,
		members: cfg.Members, audit: cfg.Audit, log: cfg.Logger, access: cfg.Access, stand: cfg.Standing}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	return d, nil
}

// handledEvents are the events Tollgate acts on; every other event is
// acknowledged and ignored without decoding it.
var handledEvents = map[string]bool{
	"pull_request": true, "issue_comment": true, "deployment": true, "deployment_protection_rule": true,
	"membership": true, "organization": true, "installation": true,
}

// hookDelivery is one delivery being handled, with its enriched logger.
type hookDelivery struct {
	id      string
	event   string
	payload []byte
	log     *slog.Logger
}

// Handle processes one stored delivery. It returns nil when the delivery
// is done (acted on, ignored, or refused by policy: a refusal is an
// answer, not a failure), an inbox.Permanent error when the payload
// cannot be understood, and any other error for a retry.
func (d *Dispatcher) Handle(ctx context.Context, it inbox.Item) error {
	log := d.log.With("delivery", it.DeliveryID, "event", it.EventType)
	if !handledEvents[it.EventType] {
		log.Debug("event ignored")
		return nil
	}
	ev, err := github.ParseWebHook(it.EventType, it.Payload)
	if err != nil {
		return inbox.Permanent(fmt.Errorf("decoding %s delivery %s: %w", it.EventType, it.DeliveryID, err))
	}
	dl := hookDelivery{id: it.DeliveryID, event: it.EventType, payload: it.Payload, log: log}
	switch e := ev.(type) {
	case *github.PullRequestEvent:
		err = d.onPullRequest(ctx, dl.with(e.GetRepo(), e.GetAction()), e)
	case *github.IssueCommentEvent:
		err = d.onIssueComment(ctx, dl.with(e.GetRepo(), e.GetAction()), e)
	case *github.DeploymentEvent:
		err = d.onDeployment(ctx, dl.with(e.GetRepo(), ""), e)
	case *github.DeploymentProtectionRuleEvent:
		err = d.onProtectionRule(ctx, dl.with(e.GetRepo(), e.GetAction()), e)
	case *github.MembershipEvent:
		err = d.onMembership(ctx, dl.with(nil, e.GetAction()), e)
	case *github.OrganizationEvent:
		err = d.onOrganization(ctx, dl.with(nil, e.GetAction()), e)
	case *github.InstallationEvent:
		err = d.onInstallation(ctx, dl.with(nil, e.GetAction()), e)
	default:
		log.Debug("event ignored")
		return nil
	}
	if ref, ok := bot.AsRefusal(err); ok {
		log.Info("refused", "code", ref.Code, "reason", ref.Reason)
		return nil
	}
	return err
}

// with adds the repository and action to the delivery's logger.
func (dl hookDelivery) with(repo *github.Repository, action string) hookDelivery {
	if repo != nil {
		dl.log = dl.log.With("repo", repo.GetFullName())
	}
	if action != "" {
		dl.log = dl.log.With("action", action)
	}
	return dl
}

// webhookIdentity is the person a payload names.
func webhookIdentity(u *github.User) bot.Identity {
	return bot.Identity{Login: u.GetLogin(), GitHubID: u.GetID()}
}

// submitAll submits each request, logging the refusals (stored and
// audited by the domain) and returning the errors worth a retry. Each
// request has its own source key, so a retry does not repeat those that
// were stored.
func (d *Dispatcher) submitAll(ctx context.Context, dl hookDelivery, reqs []bot.NewRequest) error {
	var errs []error
	for _, in := range reqs {
		out, err := d.bot.Submit(ctx, in)
		log := dl.log.With("environment", in.Environment, "trigger", in.Trigger, "source_key", in.SourceKey)
		if ref, ok := bot.AsRefusal(err); ok {
			log.Info("deploy request refused", "request", out.Request.ID, "code", ref.Code, "reason", ref.Reason)
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s request for %s %s: %w", in.Trigger, in.Repo, in.Environment, err))
			continue
		}
		if !out.Created {
			log.Info("deploy request already exists", "request", out.Request.ID)
			continue
		}
		log.Info("deploy request created", "request", out.Request.ID, "state", out.Request.State, "sha", in.SHA)
	}
	return errors.Join(errs...)
}
