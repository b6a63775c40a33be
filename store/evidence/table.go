package evidence

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// tableChunk is how many ids one IN (…) list carries: well under SQLite's
// and PostgreSQL's limits on bound parameters.
const tableChunk = 500

// tableRow is what evidence reads of a requests-table row: repo,
// environment, sha, trigger, state, requester, required approvals, the
// PR's number, author, merge and reviews, the result's manifest digest and
// the approvers; and the PR as stored, decoded whole only for a sample.
type tableRow struct {
	req    *bot.Request
	prData json.RawMessage
}

// loadTable reads the requests-table rows of the changes ids, keyed by id
// (an id with no row is absent): the rows in one query and their
// approvals in one more per chunk of ids. digests are the manifest digests
// the audit log records for the finished ones.
func loadTable(ctx context.Context, db *sql.DB, ids []string, digests map[string]string) (map[string]*tableRow, error) {
	out := make(map[string]*tableRow, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), tableChunk)]
		ids = ids[len(chunk):]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		in := strings.TrimSuffix(strings.Repeat("?, ", len(chunk)), ", ")
		if err := loadRequestRows(ctx, db, in, args, digests, out); err != nil {
			return nil, err
		}
		if err := loadApprovers(ctx, db, in, args, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func loadRequestRows(ctx context.Context, db *sql.DB, in string, args []any, digests map[string]string, out map[string]*tableRow) error {
	rows, err := db.QueryContext(ctx, `SELECT id, repo, environment, sha, trigger, state, requester_login,
		required_approvals, pr_number, pr_author_login, pr, result FROM requests WHERE id IN (`+in+`)`, args...)
	if err != nil {
		return fmt.Errorf("read requests table: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r bot.Request
		var trigger, state, prAuthor string
		var prNumber int
		var pr, result sql.RawBytes
		if err := rows.Scan(&r.ID, &r.Repo, &r.Environment, &r.SHA, &trigger, &state, &r.Requester.Login,
			&r.RequiredApprovals, &prNumber, &prAuthor, &pr, &result); err != nil {
			return fmt.Errorf("read requests table: %w", err)
		}
		r.Trigger, r.State = bot.Trigger(trigger), bot.State(state)
		var lean *struct {
			Merged  bool
			Reviews []struct {
				User        struct{ Login string }
				State       bot.ReviewState
				CommitID    string
				SubmittedAt time.Time
			}
		}
		if err := json.Unmarshal(pr, &lean); err != nil {
			return fmt.Errorf("request %s: decode pr: %w", r.ID, err)
		}
		if lean != nil { // number and author are columns of their own (pr_number, pr_author_login)
			r.PR = &bot.PullRequest{Number: prNumber, Author: bot.Identity{Login: prAuthor}, Merged: lean.Merged}
			for _, rv := range lean.Reviews {
				r.PR.Reviews = append(r.PR.Reviews, bot.Review{User: bot.Identity{Login: rv.User.Login}, State: rv.State,
					CommitID: rv.CommitID, SubmittedAt: rv.SubmittedAt})
			}
		}
		// The result holds the deploy's steps; only its digest is compared.
		// When it names the digest the audit log has, that is the digest
		// (no other field can hold that text, quotes included); anything
		// else is decoded.
		if want := digests[r.ID]; want != "" && plain(want) &&
			bytes.Contains(result, []byte(`"manifest_digest":"`+want+`"`)) {
			r.Result = &bot.DeployOutcome{ManifestDigest: want}
		} else {
			var res *struct {
				ManifestDigest string `json:"manifest_digest"`
			}
			if err := json.Unmarshal(result, &res); err != nil {
				return fmt.Errorf("request %s: decode result: %w", r.ID, err)
			}
			if res != nil {
				r.Result = &bot.DeployOutcome{ManifestDigest: res.ManifestDigest}
			}
		}
		out[r.ID] = &tableRow{req: &r, prData: append(json.RawMessage(nil), pr...)}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read requests table: %w", err)
	}
	return nil
}

func loadApprovers(ctx context.Context, db *sql.DB, in string, args []any, out map[string]*tableRow) error {
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
			r.req.Approvals = append(r.req.Approvals, a)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read approvals table: %w", err)
	}
	return nil
}
