package slack

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	slackapi "github.com/slack-go/slack"

	"github.com/tollgate-dev/tollgate/bot"
)

// RefSlackReviewTS is the request's external ref holding "channel:ts" of
// its emergency review message.
const RefSlackReviewTS = "slack_review_ts"

// LinkFinder finds the Slack accounts linked to GitHub identities, to
// message a team's members directly. *store.Store implements it.
type LinkFinder interface {
	LinksForGitHub(ctx context.Context, who []bot.Identity) ([]bot.Link, error)
}

// notifyCompliance shows the compliance notifications (issue 6): the
// emergency review message and its reminders, lock reminders and access
// review sign-offs. Kinds it does not know are ignored.
func (n *Notifier) notifyCompliance(ctx context.Context, note bot.Notification) error {
	switch note.Kind {
	case bot.NotifyEmergencyReview:
		return n.emergencyReviewOpened(ctx, note)
	case bot.NotifyEmergencyReviewReminder:
		return n.emergencyReviewReminder(ctx, note)
	case bot.NotifyEmergencyReviewOverdue:
		if note.EmergencyReview == nil {
			return nil
		}
		if err := n.showReview(ctx, note.Request, *note.EmergencyReview); err != nil {
			return err
		}
		if err := n.updateIfShown(ctx, note.Request); err != nil {
			return err
		}
		return n.toChannelAbout(ctx, note.Request, overdueText(*note.EmergencyReview))
	case bot.NotifyEmergencyReviewed:
		if note.EmergencyReview == nil {
			return nil
		}
		if err := n.showReview(ctx, note.Request, *note.EmergencyReview); err != nil {
			return err
		}
		return n.updateIfShown(ctx, note.Request)
	case bot.NotifyLockReminder:
		return n.lockReminder(ctx, note)
	case bot.NotifyDriftDetected:
		if note.Drift == nil {
			return nil
		}
		return n.post(ctx, n.channel, driftText(*note.Drift), nil)
	case bot.NotifyAccessReviewRecorded:
		if note.AccessReview == nil {
			return nil
		}
		return n.accessReviewRecorded(ctx, note)
	case bot.NotifyAccessReviewSignedOff:
		if note.AccessReview == nil {
			return nil
		}
		return n.accessReviewSignedOff(ctx, *note.AccessReview)
	case bot.NotifyAccessReviewDue:
		return n.direct(ctx, note.Teams, bot.Identity{}, accessDueText(note.AccessReview), nil)
	}
	return nil
}

// emergencyReviewOpened says so in the request's thread and posts the
// review message, with its buttons, in the channel (once).
func (n *Notifier) emergencyReviewOpened(ctx context.Context, note bot.Notification) error {
	r := note.Request
	channel, ts, err := n.message(ctx, r)
	if err != nil {
		return err
	}
	if _, _, ok := n.reviewRef(r); ok {
		return nil // already posted (a repeated notification)
	}
	if err := n.thread(ctx, r, channel, ts, fmt.Sprintf(
		":rotating_light: Emergency change %s needs its after-the-fact review by an approver. %s", r.ID, mentions(r))); err != nil {
		return err
	}
	if note.EmergencyReview == nil {
		return nil
	}
	if err := n.showReview(ctx, r, *note.EmergencyReview); err != nil {
		return err
	}
	return n.updateIfShown(ctx, r)
}

// updateIfShown edits the request's message, when it has one, to show
// where its emergency review stands.
func (n *Notifier) updateIfShown(ctx context.Context, r bot.Request) error {
	if _, _, ok := n.ref(r); !ok || r.ID == "" {
		return nil
	}
	return n.update(ctx, r)
}

// reviewRef finds the request's review message.
func (n *Notifier) reviewRef(r bot.Request) (channel, ts string, ok bool) {
	v := r.ExternalRefs[RefSlackReviewTS]
	if v == "" {
		v = n.refs["review:"+r.ID]
	}
	channel, ts, ok = strings.Cut(v, ":")
	return channel, ts, ok && channel != "" && ts != ""
}

// showReview posts the review message of r, or edits it in place.
func (n *Notifier) showReview(ctx context.Context, r bot.Request, rev bot.EmergencyReview) error {
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(emergencyReviewFallback(rev), false),
		slackapi.MsgOptionBlocks(emergencyReviewBlocks(r, rev, n.links, n.now())...)}
	if channel, ts, ok := n.reviewRef(r); ok {
		if _, _, _, err := n.api.UpdateMessageContext(ctx, channel, ts, opts...); err != nil {
			return fmt.Errorf("updating the review message of emergency change %s: %w", rev.RequestID, err)
		}
		return nil
	}
	channel, ts, err := n.api.PostMessageContext(ctx, n.channel, opts...)
	if err != nil {
		return fmt.Errorf("posting the review message of emergency change %s in %s: %w", rev.RequestID, n.channel, err)
	}
	n.refs["review:"+rev.RequestID] = channel + ":" + ts
	if err := n.reqs.SetExternalRef(ctx, rev.RequestID, RefSlackReviewTS, channel+":"+ts); err != nil {
		return fmt.Errorf("recording the review message of emergency change %s: %w", rev.RequestID, err)
	}
	return nil
}

// toChannelAbout posts text in the channel: under the review message,
// broadcast to the channel, when there is one.
func (n *Notifier) toChannelAbout(ctx context.Context, r bot.Request, text string) error {
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(text, false)}
	channel := n.channel
	if ch, ts, ok := n.reviewRef(r); ok {
		channel = ch
		opts = append(opts, slackapi.MsgOptionTS(ts), slackapi.MsgOptionBroadcast())
	}
	if _, _, err := n.api.PostMessageContext(ctx, channel, opts...); err != nil {
		return fmt.Errorf("posting about emergency change %s in %s: %w", r.ID, channel, err)
	}
	return nil
}

// emergencyReviewReminder reminds the channel (the first reminder) or the
// approvers directly, with the review buttons; never the deployer.
func (n *Notifier) emergencyReviewReminder(ctx context.Context, note bot.Notification) error {
	rev := note.EmergencyReview
	if rev == nil {
		return nil
	}
	text := reminderText(*rev, n.now())
	if note.Audience != bot.AudienceApprovers {
		return n.toChannelAbout(ctx, note.Request, text)
	}
	blocks := append([]slackapi.Block{slackapi.NewSectionBlock(mrkdwn(text), nil, nil)},
		emergencyReviewBlocks(note.Request, *rev, n.links, n.now())...)
	return n.direct(ctx, note.Teams, rev.Deployer, text, blocks)
}

// lockReminder tells a lock's owner, directly, that they still hold it.
func (n *Notifier) lockReminder(ctx context.Context, note bot.Notification) error {
	l := note.Lock
	if l == nil {
		return nil
	}
	text := lockReminderText(*l, n.now())
	var users []string
	if _, user, ok := strings.Cut(l.Owner.ChatUser, "/"); ok && user != "" {
		users = []string{user} // locked from Slack: that account
	} else {
		var err error
		if users, err = n.slackUsersOf(ctx, []bot.Identity{l.Owner}); err != nil {
			return err
		}
	}
	if len(users) == 0 {
		return n.post(ctx, n.channel, fmt.Sprintf("%s (for %s, who has no linked Slack account)", text, esc(l.Owner.Login)), nil)
	}
	return n.postEach(ctx, users, text, nil)
}

// accessReviewRecorded asks the access reviewers, directly, to sign the
// snapshot off, and remembers each message to edit it at the sign-off.
func (n *Notifier) accessReviewRecorded(ctx context.Context, note bot.Notification) error {
	ar := *note.AccessReview
	users, err := n.teamSlackUsers(ctx, note.Teams, bot.Identity{})
	if err != nil {
		return err
	}
	if len(users) == 0 {
		users = []string{n.channel}
	}
	var first error
	for _, u := range users {
		channel, ts, err := n.api.PostMessageContext(ctx, u, slackapi.MsgOptionText(accessReviewFallback(ar), false),
			slackapi.MsgOptionBlocks(accessReviewBlocks(ar)...))
		if err != nil {
			first = cmpErr(first, fmt.Errorf("posting access review %s to %s: %w", ar.ID, u, err))
			continue
		}
		n.accessMsgs[ar.ID] = append(n.accessMsgs[ar.ID], channel+":"+ts)
	}
	return first
}

// accessReviewSignedOff edits every sign-off message of the review in
// place; when none is known (the process restarted), it posts one.
func (n *Notifier) accessReviewSignedOff(ctx context.Context, ar bot.AccessReview) error {
	refs := n.accessMsgs[ar.ID]
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(accessReviewFallback(ar), false),
		slackapi.MsgOptionBlocks(accessReviewBlocks(ar)...)}
	if len(refs) == 0 {
		if _, _, err := n.api.PostMessageContext(ctx, n.channel, opts...); err != nil {
			return fmt.Errorf("posting the sign-off of access review %s: %w", ar.ID, err)
		}
		return nil
	}
	var first error
	for _, ref := range refs {
		channel, ts, _ := strings.Cut(ref, ":")
		if _, _, _, err := n.api.UpdateMessageContext(ctx, channel, ts, opts...); err != nil {
			first = cmpErr(first, fmt.Errorf("updating access review %s in %s: %w", ar.ID, channel, err))
		}
	}
	delete(n.accessMsgs, ar.ID)
	return first
}

// direct messages the linked members of teams (but not exclude); when
// none of them is linked, the channel hears it instead, so nothing is lost.
func (n *Notifier) direct(ctx context.Context, teams []bot.Team, exclude bot.Identity, text string, blocks []slackapi.Block) error {
	users, err := n.teamSlackUsers(ctx, teams, exclude)
	if err != nil {
		return err
	}
	if len(users) == 0 {
		n.log.WarnContext(ctx, "nobody to message directly; posting in the channel", slog.Any("teams", teamNames(teams)))
		return n.post(ctx, n.channel, text, blocks)
	}
	return n.postEach(ctx, users, text, blocks)
}

// teamSlackUsers returns the Slack user ids linked to the members of
// teams, but not to exclude; none without Members and Links configured.
func (n *Notifier) teamSlackUsers(ctx context.Context, teams []bot.Team, exclude bot.Identity) ([]string, error) {
	if n.members == nil || n.linked == nil {
		return nil, nil
	}
	var who []bot.Identity
	seen := map[string]bool{}
	for _, t := range teams {
		logins, err := n.members.TeamMembers(ctx, t.Org, t.Slug)
		if err != nil {
			return nil, fmt.Errorf("members of %s, to message them: %w", t, err)
		}
		for _, login := range logins {
			id := bot.Identity{Login: login}
			if seen[strings.ToLower(login)] || (exclude.Login != "" && id.Same(exclude)) {
				continue
			}
			seen[strings.ToLower(login)] = true
			who = append(who, id)
		}
	}
	users, err := n.slackUsersOf(ctx, who)
	if err != nil {
		return nil, err
	}
	if exclude.GitHubID == 0 {
		return users, nil
	}
	// A renamed deployer is still the deployer: drop their links by id too.
	mine, err := n.slackUsersOf(ctx, []bot.Identity{{GitHubID: exclude.GitHubID}})
	if err != nil {
		return nil, err
	}
	out := users[:0]
	for _, u := range users {
		if !containsString(mine, u) {
			out = append(out, u)
		}
	}
	return out, nil
}

// slackUsersOf returns the Slack user ids linked to who, once each.
func (n *Notifier) slackUsersOf(ctx context.Context, who []bot.Identity) ([]string, error) {
	if n.linked == nil || len(who) == 0 {
		return nil, nil
	}
	ls, err := n.linked.LinksForGitHub(ctx, who)
	if err != nil {
		return nil, fmt.Errorf("finding the Slack accounts of %d people: %w", len(who), err)
	}
	var out []string
	for _, l := range ls {
		if !containsString(out, l.Chat.User) {
			out = append(out, l.Chat.User)
		}
	}
	return out, nil
}

// postEach posts the same message to each user (their direct message
// with the bot) and returns the first failure.
func (n *Notifier) postEach(ctx context.Context, users []string, text string, blocks []slackapi.Block) error {
	var first error
	for _, u := range users {
		first = cmpErr(first, n.post(ctx, u, text, blocks))
	}
	return first
}

func (n *Notifier) post(ctx context.Context, channel, text string, blocks []slackapi.Block) error {
	opts := []slackapi.MsgOption{slackapi.MsgOptionText(text, false)}
	if len(blocks) > 0 {
		opts = append(opts, slackapi.MsgOptionBlocks(blocks...))
	}
	if _, _, err := n.api.PostMessageContext(ctx, channel, opts...); err != nil {
		return fmt.Errorf("posting to %s: %w", channel, err)
	}
	return nil
}

// cmpErr keeps the first error.
func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
