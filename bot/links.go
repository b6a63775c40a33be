package bot

import (
	"context"
	"errors"
	"fmt"
)

// LinkIdentity records that a Slack user proved they own a GitHub account
// (the OAuth callback calls it), replacing any earlier link of that user.
func (s *Service) LinkIdentity(ctx context.Context, l Link) error {
	if l.SlackTeam == "" || l.SlackUser == "" || l.GitHubLogin == "" || l.GitHubID == 0 {
		return fmt.Errorf("link %s/%s: Slack team, user, GitHub login and id are all required", l.SlackTeam, l.SlackUser)
	}
	l.LinkedAt = s.now().UTC()
	ev := AuditEvent{Actor: l.GitHubLogin, Action: ActionIdentityLinked, Subject: l.SlackTeam + "/" + l.SlackUser,
		Data: map[string]any{"github_login": l.GitHubLogin, "github_id": l.GitHubID}}
	if err := s.store.SaveLink(ctx, l, ev); err != nil {
		return fmt.Errorf("link %s/%s to %s: %w", l.SlackTeam, l.SlackUser, l.GitHubLogin, err)
	}
	return nil
}

// UnlinkSlack removes a Slack user's link; it is a refusal when there is none.
func (s *Service) UnlinkSlack(ctx context.Context, slackTeam, slackUser string) error {
	subject := slackTeam + "/" + slackUser
	removed, err := s.store.DeleteLinks(ctx, slackTeam, slackUser, 0, AuditEvent{Actor: "slack:" + subject,
		Action: ActionIdentityUnlinked, Subject: subject, Data: map[string]any{"reason": "unlinked by the user"}})
	if err != nil {
		return fmt.Errorf("unlink %s: %w", subject, err)
	}
	if len(removed) == 0 {
		return refuse(CodeNotLinked, "your Slack account is not linked to a GitHub account")
	}
	return nil
}

// SlackIdentity returns who a Slack user is, or a *Refusal (audited) when
// they have not linked a GitHub account: an unlinked user can ask for help
// and link, nothing else.
func (s *Service) SlackIdentity(ctx context.Context, slackTeam, slackUser string) (Identity, error) {
	l, err := s.store.LinkForSlack(ctx, slackTeam, slackUser)
	if errors.Is(err, ErrNotFound) {
		return Identity{}, s.refuseAction(ctx, Identity{SlackUser: slackTeam + "/" + slackUser}, "identify",
			slackTeam+"/"+slackUser, refuse(CodeNotLinked, "link your GitHub account first: /deploy link"))
	}
	if err != nil {
		return Identity{}, fmt.Errorf("looking up the link of %s/%s: %w", slackTeam, slackUser, err)
	}
	return l.Identity(), nil
}
