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

// External refs the Notifier keeps on a request, in the database, so every
// replica finds the request's message and knows what its thread shows.
const (
	// RefSlackTS holds "channel:ts" of the request's message.
	RefSlackTS = "slack_ts"
	// RefSlackThread holds the lifecycle rank (threadRank) of the last
	// progress line posted in the message's thread.
	RefSlackThread = "slack_thread"
)

// Requests is what the Notifier asks of bot: *bot.Service implements it.
type Requests interface {
	// SetExternalRef records the message of a request, to edit it later.
	SetExternalRef(ctx context.Context, id, key, value string) error
	// Request returns the request as stored now: a notification carries
	// the request as of its transition, which may predate the message
	// another replica posted since.
	Request(ctx context.Context, id string) (bot.Request, error)
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
	if isRequestKind(note.Kind) {
		var err error
		if r, err = n.withStoredRefs(ctx, r); err != nil {
			return err
		}
	}
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
	case bot.NotifyIdentityLinked:
		if note.Link == nil {
			return nil
		}
		return n.post(ctx, n.channel, linkedText(*note.Link), nil)
	}
	return n.notifyCompliance(ctx, note)
}

// linkedText announces a new link, naming both identities and how each
// was proved, so the channel sees who now acts as whom.
func linkedText(l bot.Link) string {
	return fmt.Sprintf(":link: <@%s> (Slack user %s in workspace %s) is now linked to GitHub user *%s* (id %d): "+
		"both proved in one browser, with Sign in with Slack and then GitHub.",
		l.Chat.User, esc(l.Chat.User), esc(l.Chat.Workspace), esc(l.GitHubLogin), l.GitHubID)
}

// isRequestKind reports whether notifications of kind show a request's
// message (the others are reminders and reviews).
func isRequestKind(k bot.NotificationKind) bool {
	switch k {
	case bot.NotifyApprovalNeeded, bot.NotifyApprovalGranted, bot.NotifyRefused, bot.NotifyStateChanged, bot.NotifyFinished:
		return true
	}
	return false
}

// withStoredRefs returns r with the Slack refs stored for it now (its
// message, what its thread shows), which another replica may have
// recorded after r's transition. It fails rather than guess: a guess
// posts a second message.
func (n *Notifier) withStoredRefs(ctx context.Context, r bot.Request) (bot.Request, error) {
	if r.ID == "" {
		return r, nil
	}
	cur, err := n.reqs.Request(ctx, r.ID)
	if errors.Is(err, bot.ErrNotFound) {
		return r, nil
	}
	if err != nil {
		return r, fmt.Errorf("reading the Slack refs of request %s: %w", r.ID, err)
	}
	refs := make(map[string]string, len(r.ExternalRefs)+2)
	for k, v := range r.ExternalRefs {
		refs[k] = v
	}
	for _, k := range []string{RefSlackTS, RefSlackThread} {
		if v := cur.ExternalRefs[k]; v != "" {
			refs[k] = v
		}
	}
	r.ExternalRefs = refs
	return r, nil
}

// message returns the request's message, posting it first when there is
// none yet, and records where it is (and that its thread is empty).
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
	if err := n.reqs.SetExternalRef(ctx, r.ID, RefSlackThread, "0"); err != nil {
		return "", "", fmt.Errorf("recording the thread of request %s: %w", r.ID, err)
	}
	if r.ExternalRefs == nil {
		r.ExternalRefs = map[string]string{}
	}
	r.ExternalRefs[RefSlackThread] = "0"
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
