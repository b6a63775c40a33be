package bot

import (
	"context"
	"errors"
	"fmt"
)

// LinkIdentity records that a chat user proved, in one browser session,
// both that they are that chat user and that they own a GitHub account
// (the linking callbacks call it), replacing any earlier link of that
// user. Both proofs are required and recorded in the audit entry; the
// chat proof must be of l.Chat itself. The new link is announced.
func (s *Service) LinkIdentity(ctx context.Context, l Link) error {
	if !l.Chat.complete() || l.GitHubLogin == "" || l.GitHubID == 0 {
		return fmt.Errorf("link %s: chat platform, workspace, user, GitHub login and id are all required", l.Chat.Actor())
	}
	chat, github := proofOf(l.Proofs, ProofChat), proofOf(l.Proofs, ProofGitHub)
	if chat == nil || github == nil || chat.Account != l.Chat.Workspace+"/"+l.Chat.User {
		return fmt.Errorf("link %s to %s: a proof of the %s account itself and of the GitHub account are required",
			l.Chat, l.GitHubLogin, chatName(l.Chat))
	}
	l.LinkedAt = s.now().UTC()
	ev := AuditEvent{Actor: l.GitHubLogin, Action: ActionIdentityLinked, Subject: l.Chat.String(),
		Data: map[string]any{"github_login": l.GitHubLogin, "github_id": l.GitHubID,
			"chat_account": l.Chat.String(), "proofs": l.Proofs}}
	if err := s.store.SaveLink(ctx, l, ev); err != nil {
		return fmt.Errorf("link %s to %s: %w", l.Chat, l.GitHubLogin, err)
	}
	s.notify(ctx, Notification{Kind: NotifyIdentityLinked, Link: &l,
		Actor: Identity{Login: l.GitHubLogin, GitHubID: l.GitHubID, ChatUser: l.Chat.String()}})
	return nil
}

// proofOf returns the proof of side, or nil.
func proofOf(ps []IdentityProof, side string) *IdentityProof {
	for i := range ps {
		if ps[i].Side == side {
			return &ps[i]
		}
	}
	return nil
}

// Unlink removes a chat account's link; it is a refusal when there is none.
func (s *Service) Unlink(ctx context.Context, chat ChatIdentity) error {
	subject := chat.String()
	removed, err := s.store.DeleteLinks(ctx, chat, 0, AuditEvent{Actor: chat.Actor(),
		Action: ActionIdentityUnlinked, Subject: subject, Data: map[string]any{"reason": "unlinked by the user"}})
	if err != nil {
		return fmt.Errorf("unlink %s: %w", subject, err)
	}
	if len(removed) == 0 {
		return refuse(CodeNotLinked, "your %s account is not linked to a GitHub account", chatName(chat))
	}
	return nil
}

// IdentityFor returns who a chat account is, or a *Refusal (audited) when
// its owner has not linked a GitHub account: an unlinked user can ask for
// help and link, nothing else.
func (s *Service) IdentityFor(ctx context.Context, chat ChatIdentity) (Identity, error) {
	l, err := s.store.LinkFor(ctx, chat)
	if errors.Is(err, ErrNotFound) {
		return Identity{}, s.refuseAction(ctx, Identity{ChatUser: chat.String()}, "identify",
			chat.String(), refuse(CodeNotLinked, "link your GitHub account first: /deploy link"))
	}
	if err != nil {
		return Identity{}, fmt.Errorf("looking up the link of %s: %w", chat, err)
	}
	return l.Identity(), nil
}

// chatName names a platform for people ("Slack").
func chatName(c ChatIdentity) string {
	if c.Platform == PlatformSlack {
		return "Slack"
	}
	return "chat"
}
