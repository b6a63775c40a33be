package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/tollgate-dev/tollgate/bot"
)

// LinksForGitHub returns the Slack links of the given GitHub accounts, so
// a notification meant for a team's members can reach them directly. A
// person is matched by numeric id when it is known (the id is what counts:
// a renamed login keeps its link), else by login, case-insensitively.
// People without a link are left out; the result is ordered by login.
func (s *Store) LinksForGitHub(ctx context.Context, who []bot.Identity) ([]bot.Link, error) {
	if len(who) == 0 {
		return nil, nil
	}
	var conds []string
	var args []any
	for _, p := range who {
		switch {
		case p.GitHubID != 0:
			conds, args = append(conds, "github_id = ?"), append(args, p.GitHubID)
		case p.Login != "":
			conds, args = append(conds, "lower(github_login) = lower(?)"), append(args, p.Login)
		}
	}
	if len(conds) == 0 {
		return nil, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT slack_team, slack_user, github_login, github_id, linked_at
		FROM identity_links WHERE `+strings.Join(conds, " OR ")+` ORDER BY github_login, slack_team, slack_user`, args...)
	if err != nil {
		return nil, fmt.Errorf("links of %d GitHub accounts: %w", len(who), err)
	}
	defer rows.Close()
	var out []bot.Link
	for rows.Next() {
		var l bot.Link
		var linked int64
		if err := rows.Scan(&l.Chat.Workspace, &l.Chat.User, &l.GitHubLogin, &l.GitHubID, &linked); err != nil {
			return nil, fmt.Errorf("links of %d GitHub accounts: %w", len(who), err)
		}
		l.LinkedAt, l.Chat.Platform = fromNanos(linked), bot.PlatformSlack
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("links of %d GitHub accounts: %w", len(who), err)
	}
	return out, nil
}
