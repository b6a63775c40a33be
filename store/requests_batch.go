package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/tollgate-dev/tollgate/bot"
)

// idChunk is how many ids one IN (…) list carries: well under SQLite's
// (and PostgreSQL's) limit on bound parameters.
const idChunk = 500

// approvalsOf reads the approvals of the requests ids, oldest first for
// each, in one query per chunk.
func approvalsOf(ctx context.Context, q rowQueryer, ids []string) (map[string][]bot.Approval, error) {
	out := make(map[string][]bot.Approval, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), idChunk)]
		ids = ids[len(chunk):]
		rows, err := q.QueryContext(ctx, `SELECT request_id, approver_login, approver_id, approver_slack, at, sha,
			config_hash, expires_at, revoked_at FROM approvals WHERE request_id IN (`+placeholders(len(chunk))+`)
			ORDER BY request_id, id`, stringArgs(chunk)...)
		if err != nil {
			return nil, fmt.Errorf("approvals of %d requests: %w", len(chunk), err)
		}
		for rows.Next() {
			var id string
			var a bot.Approval
			var at, expires, revoked int64
			if err := rows.Scan(&id, &a.Approver.Login, &a.Approver.GitHubID, &a.Approver.ChatUser, &at, &a.SHA,
				&a.ConfigHash, &expires, &revoked); err != nil {
				rows.Close()
				return nil, fmt.Errorf("approvals of %s: %w", id, err)
			}
			a.At, a.ExpiresAt, a.RevokedAt = fromNanos(at), fromNanos(expires), fromNanos(revoked)
			out[id] = append(out[id], a)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("approvals of %d requests: %w", len(chunk), err)
		}
	}
	return out, nil
}

// placeholders is "?, ?, …" for n parameters.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func stringArgs(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
