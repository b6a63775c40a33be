package evidence

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tollgate-dev/tollgate/bot"
)

// tableChunk is how many ids one IN (…) list carries: well under SQLite's
// and PostgreSQL's limits on bound parameters.
const tableChunk = 500

// loadTable reads the requests-table rows of the changes ids, keyed by id
// (an id with no row is absent): the rows in one query and their
// approvals in one more per chunk of ids. Only what evidence compares
// with the audit log and lists is read: repo, environment, sha, trigger,
// state, requester, required approvals, the PR with its reviews, the
// result's manifest digest and the approvers.
func loadTable(ctx context.Context, db *sql.DB, ids []string) (map[string]*bot.Request, error) {
	out := make(map[string]*bot.Request, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), tableChunk)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		in := strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")
		if err := loadRequestRows(ctx, db, in, args, out); err != nil {
			return nil, err
		}
		if err := loadApprovers(ctx, db, in, args, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func loadRequestRows(ctx context.Context, db *sql.DB, in string, args []any, out map[string]*bot.Request) error {
	rows, err := db.QueryContext(ctx, `SELECT id, repo, environment, sha, trigger, state, requester_login,
		required_approvals, pr, result FROM requests WHERE id IN (`+in+`)`, args...)
	if err != nil {
		return fmt.Errorf("read requests table: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r bot.Request
		var trigger, state string
		var pr, result sql.RawBytes
		if err := rows.Scan(&r.ID, &r.Repo, &r.Environment, &r.SHA, &trigger, &state, &r.Requester.Login,
			&r.RequiredApprovals, &pr, &result); err != nil {
			return fmt.Errorf("read requests table: %w", err)
		}
		r.Trigger, r.State = bot.Trigger(trigger), bot.State(state)
		if err := json.Unmarshal(pr, &r.PR); err != nil {
			return fmt.Errorf("request %s: decode pr: %w", r.ID, err)
		}
		var res *struct {
			ManifestDigest string `json:"manifest_digest"`
		}
		if err := json.Unmarshal(result, &res); err != nil {
			return fmt.Errorf("request %s: decode result: %w", r.ID, err)
		}
		if res != nil {
			r.Result = &bot.DeployOutcome{ManifestDigest: res.ManifestDigest}
		}
		out[r.ID] = &r
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read requests table: %w", err)
	}
	return nil
}

func loadApprovers(ctx context.Context, db *sql.DB, in string, args []any, out map[string]*bot.Request) error {
	rows, err := db.QueryContext(ctx, `SELECT request_id, approver_login FROM approvals
		WHERE request_id IN (`+in+`) ORDER BY request_id, id`, args...)
	if err != nil {
		return fmt.Errorf("read approvals table: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var a bot.Approval
		if err := rows.Scan(&id, &a.Approver.Login); err != nil {
			return fmt.Errorf("read approvals table: %w", err)
		}
		if r := out[id]; r != nil {
			r.Approvals = append(r.Approvals, a)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read approvals table: %w", err)
	}
	return nil
}
