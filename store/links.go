package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tollgate-dev/tollgate/bot"
)

// The identity_links table keeps Slack accounts: a link of another chat
// platform needs a platform column first (docs/architecture.md).
func slackOnly(chat bot.ChatIdentity) error {
	if chat.Platform != bot.PlatformSlack {
		return fmt.Errorf("identity links of chat platform %q are not stored (only %s)", chat.Platform, bot.PlatformSlack)
	}
	return nil
}

// SaveLink implements bot.LinkStore.
func (s *Store) SaveLink(ctx context.Context, l bot.Link, ev bot.AuditEvent) error {
	if err := slackOnly(l.Chat); err != nil {
		return err
	}
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, upsert("identity_links", `slack_team, slack_user, github_login, github_id, linked_at`,
			"slack_team, slack_user"),
			l.Chat.Workspace, l.Chat.User, l.GitHubLogin, l.GitHubID, nanos(l.LinkedAt)); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, []bot.AuditEvent{ev})
	})
	if err != nil {
		return fmt.Errorf("link %s to %s: %w", l.Chat, l.GitHubLogin, err)
	}
	return nil
}

// LinkFor implements bot.LinkStore.
func (s *Store) LinkFor(ctx context.Context, chat bot.ChatIdentity) (bot.Link, error) {
	if err := slackOnly(chat); err != nil {
		return bot.Link{}, fmt.Errorf("link of %s: %w: %w", chat.Actor(), err, bot.ErrNotFound)
	}
	slackTeam, slackUser := chat.Workspace, chat.User
	if s.dialect.postgres {
		l, found, err := s.linkLookups.lookup(ctx, slackTeam, slackUser)
		switch {
		case err != nil:
			return bot.Link{}, fmt.Errorf("link of %s/%s: %w", slackTeam, slackUser, err)
		case !found:
			return bot.Link{}, fmt.Errorf("link of %s/%s: %w", slackTeam, slackUser, bot.ErrNotFound)
		}
		return l, nil
	}
	l := bot.Link{Chat: chat}
	var linked int64
	err := s.db.QueryRowContext(ctx, `SELECT github_login, github_id, linked_at FROM identity_links
		WHERE slack_team = ? AND slack_user = ?`, slackTeam, slackUser).Scan(&l.GitHubLogin, &l.GitHubID, &linked)
	if errors.Is(err, sql.ErrNoRows) {
		return bot.Link{}, fmt.Errorf("link of %s/%s: %w", slackTeam, slackUser, bot.ErrNotFound)
	}
	if err != nil {
		return bot.Link{}, fmt.Errorf("link of %s/%s: %w", slackTeam, slackUser, err)
	}
	l.LinkedAt = fromNanos(linked)
	return l, nil
}

// DeleteLinks implements bot.LinkStore.
func (s *Store) DeleteLinks(ctx context.Context, chat bot.ChatIdentity, githubID int64, ev bot.AuditEvent) ([]bot.Link, error) {
	cond, args := `slack_team = ? AND slack_user = ?`, []any{chat.Workspace, chat.User}
	if chat.User == "" {
		if githubID == 0 {
			return nil, errors.New("delete links: name a Slack user or a GitHub id")
		}
		cond, args = `github_id = ?`, []any{githubID}
	}
	var removed []bot.Link
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `DELETE FROM identity_links WHERE `+cond+`
			RETURNING slack_team, slack_user, github_login, github_id, linked_at`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var l bot.Link
			var linked int64
			if err := rows.Scan(&l.Chat.Workspace, &l.Chat.User, &l.GitHubLogin, &l.GitHubID, &linked); err != nil {
				rows.Close()
				return err
			}
			l.LinkedAt, l.Chat.Platform = fromNanos(linked), bot.PlatformSlack
			removed = append(removed, l)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(removed) == 0 {
			return nil
		}
		return s.appendEvents(ctx, tx, []bot.AuditEvent{ev})
	})
	if err != nil {
		return nil, fmt.Errorf("delete links of %s (GitHub id %d): %w", chat, githubID, err)
	}
	return removed, nil
}
