package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
)

// RefSlackTS is the request's external ref holding "channel:ts" of its message.
const RefSlackTS = "slack_ts"

// Requests is what the Notifier asks of bot: *bot.Service implements it.
type Requests interface {
	// SetExternalRef records the message of a request, to edit it later.
	SetExternalRef(ctx context.Context, id, key, value string) error
	// Live returns what runs on repo/env now, for the compare link.
	Live(ctx context.Context, repo, env string) (bot.Request, bool, error)
}

// NotifierConfig is what a Notifier needs.
type NotifierConfig struct {
	Slack        *slackapi.Client
	Channel      string // where request messages are posted (slack.channel)
	PublicURL    string // Tollgate's external base URL, for log links
	GitHubWebURL string // e.g. https://github.com/, for commit, PR and compare links
	Clock        func() time.Time
	Logger       *slog.Logger
	// Members and Links reach a team's members directly (emergency review
	// reminders, access reviews); without them those go to Channel.
	Members bot.TeamMembers
	Links   LinkFinder
}

// Notifier shows requests in Slack: one message per request (the approval
// ask with its buttons, edited in place as approvals come in and the
// request ends) and its progress as replies in the message's thread. It
// implements bot.Notifier.
type Notifier struct {
	api     *slackapi.Client
	channel string
	links   links
	now     func() time.Time
	log     *slog.Logger

	mu   sync.Mutex // one notification at a time: a request gets one message
	reqs Requests
	refs map[string]string // request id → "channel:ts", before the store has it
	// progress is what each request's message and thread show (progress.go).
	progress map[string]progress

	members    bot.TeamMembers
	linked     LinkFinder
	accessMsgs map[string][]string // access review id → "channel:ts" of its sign-off messages
}

// NewNotifier returns a Notifier. Call Bind with the bot.Service before
// the first notification.
func NewNotifier(cfg NotifierConfig) (*Notifier, error) {
	if cfg.Slack == nil || cfg.Channel == "" {
		return nil, errors.New("slack notifier: Slack client and channel are required")
	}
	n := &Notifier{api: cfg.Slack, channel: cfg.Channel, now: cfg.Clock, log: cfg.Logger,
		links: links{web: withSlash(cfg.GitHubWebURL), public: strings.TrimSuffix(cfg.PublicURL, "/")},
		refs:  map[string]string{}, members: cfg.Members, linked: cfg.Links, accessMsgs: map[string][]string{}}
	if n.now == nil {
		n.now = time.Now
	}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	return n, nil
}

// Bind gives the Notifier the service whose requests it shows (the
// service is built with the Notifier, so this closes the loop).
func (n *Notifier) Bind(reqs Requests) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.reqs = reqs
}

// Notify implements bot.Notifier.
func (n *Notifier) Notify(ctx context.Context, note bot.Notification) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.reqs == nil {
		return errors.New("slack notifier: Bind was not called")
	}
	r := note.Request
	switch note.Kind {
	case bot.NotifyApprovalNeeded:
		_, _, err := n.message(ctx, r)
		return err
	case bot.NotifyApprovalGranted:
		return n.update(ctx, r)
	case bot.NotifyRefused:
		if r.Trigger == bot.TriggerSlack {
			return nil // the requester was told in their own reply
		}
		if r.Decision != nil && r.Decision.NoRole() {
			return nil // someone without a role: the approvers have nothing to do (the PR says why)
		}
		_, _, err := n.message(ctx, r)
		return err
	case bot.NotifyStateChanged, bot.NotifyFinished:
		return n.showProgress(ctx, r)
	}
	return n.notifyCompliance(ctx, note)
}

// message returns the request's message, posting it first when there is
// none yet, and records where it is.
func (n *Notifier) message(ctx context.Context, r bot.Request) (channel, ts string, err error) {
	if channel, ts, ok := n.ref(r); ok {
		return channel, ts, nil
	}
	blocks, err := n.blocks(ctx, r)
	if err != nil {
		return "", "", err
	}
	channel, ts, err = n.api.PostMessageContext(ctx, n.channel, slackapi.MsgOptionText(fallbackText(r), false),
		slackapi.MsgOptionBlocks(blocks...))
	if err != nil {
		return "", "", fmt.Errorf("posting the message of request %s in %s: %w", r.ID, n.channel, err)
	}
	n.refs[r.ID] = channel + ":" + ts
	if err := n.reqs.SetExternalRef(ctx, r.ID, RefSlackTS, channel+":"+ts); err != nil {
		return "", "", fmt.Errorf("recording the message of request %s: %w", r.ID, err)
	}
	return channel, ts, nil
}

// ref finds the request's message.
func (n *Notifier) ref(r bot.Request) (channel, ts string, ok bool) {
	v := r.ExternalRefs[RefSlackTS]
	if v == "" {
		v = n.refs[r.ID]
	}
	channel, ts, ok = strings.Cut(v, ":")
	return channel, ts, ok && channel != "" && ts != ""
}

// update edits the request's message in place to show its current state.
func (n *Notifier) update(ctx context.Context, r bot.Request) error {
	if n.stale(r) {
		return nil // it shows a newer version already
	}
	channel, ts, ok := n.ref(r)
	if !ok {
		_, _, err := n.message(ctx, r)
		return err
	}
	blocks, err := n.blocks(ctx, r)
	if err != nil {
		return err
	}
	if _, _, _, err := n.api.UpdateMessageContext(ctx, channel, ts, slackapi.MsgOptionText(fallbackText(r), false),
		slackapi.MsgOptionBlocks(blocks...)); err != nil {
		return fmt.Errorf("updating the message of request %s: %w", r.ID, err)
	}
	return nil
}

// thread posts a progress line under the request's message.
func (n *Notifier) thread(ctx context.Context, r bot.Request, channel, ts, text string) error {
	if text == "" {
		return nil
	}
	if _, _, err := n.api.PostMessageContext(ctx, channel, slackapi.MsgOptionText(text, false),
		slackapi.MsgOptionTS(ts)); err != nil {
		return fmt.Errorf("posting progress of request %s: %w", r.ID, err)
	}
	return nil
}

// blocks renders r with what runs on its environment now.
func (n *Notifier) blocks(ctx context.Context, r bot.Request) ([]slackapi.Block, error) {
	var live *bot.Request
	if r.State == bot.StateAwaitingApproval || r.State == bot.StateRequested {
		l, ok, err := n.reqs.Live(ctx, r.Repo, r.Environment)
		if err != nil {
			return nil, fmt.Errorf("rendering request %s: %w", r.ID, err)
		}
		if ok {
			live = &l
		}
	}
	return requestBlocks(r, live, n.links, n.now()), nil
}
