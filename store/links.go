package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/tollgate-dev/tollgate/bot"
)

// SaveLink implements bot.LinkStore.
func (s *Store) SaveLink(ctx context.Context, l bot.Link, ev bot.AuditEvent) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, upsert("identity_links", `slack_team, slack_user, github_login, github_id, linked_at`,
			"slack_team, slack_user"),
			l.SlackTeam, l.SlackUser, l.GitHubLogin, l.GitHubID, nanos(l.LinkedAt)); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, []bot.AuditEvent{ev})
	})
	if err != nil {
		return fmt.Errorf("link %s/%s to %s: %w", l.SlackTeam, l.SlackUser, l.GitHubLogin, err)
	}
	return nil
}

// LinkForSlack implements bot.LinkStore.
func (s *Store) LinkForSlack(ctx context.Context, slackTeam, slackUser string) (bot.Link, error) {
	l := bot.Link{SlackTeam: slackTeam, SlackUser: slackUser}
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
func (s *Store) DeleteLinks(ctx context.Context, slackTeam, slackUser string, githubID int64, ev bot.AuditEvent) ([]bot.Link, error) {
	cond, args := `slack_team = ? AND slack_user = ?`, []any{slackTeam, slackUser}
	if slackUser == "" {
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
			if err := rows.Scan(&l.SlackTeam, &l.SlackUser, &l.GitHubLogin, &l.GitHubID, &linked); err != nil {
				rows.Close()
				return err
			}
			l.LinkedAt = fromNanos(linked)
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
		return nil, fmt.Errorf("delete links of %s/%s (GitHub id %d): %w", slackTeam, slackUser, githubID, err)
	}
	return removed, nil
}
