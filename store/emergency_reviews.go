package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/tollgate-dev/tollgate/bot"
)

const emergencyReviewColumns = `request_id, repo, environment, sha, deployer_login, deployer_id, deployer_slack,
	reason, ticket, approvers, deployed_at, opened_at, due_at, reminders, last_reminded_at, overdue_at,
	outcome, reviewer_login, reviewer_id, reviewer_slack, reviewed_at, note`

// OpenEmergencyReview implements bot.EmergencyReviewStore.
func (s *Store) OpenEmergencyReview(ctx context.Context, r bot.EmergencyReview, ev bot.AuditEvent) (bool, error) {
	created := false
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		v, err := emergencyReviewValues(r)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO emergency_reviews (`+emergencyReviewColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING`, v...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		created = true
		return s.appendEvents(ctx, tx, []bot.AuditEvent{ev})
	})
	if err != nil {
		return false, fmt.Errorf("open emergency review of %s: %w", r.RequestID, err)
	}
	return created, nil
}

// EmergencyReview implements bot.EmergencyReviewStore.
func (s *Store) EmergencyReview(ctx context.Context, requestID string) (bot.EmergencyReview, error) {
	rs, err := queryEmergencyReviews(ctx, s.db, `WHERE request_id = ?`, requestID)
	if err != nil {
		return bot.EmergencyReview{}, fmt.Errorf("emergency review of %s: %w", requestID, err)
	}
	if len(rs) == 0 {
		return bot.EmergencyReview{}, fmt.Errorf("emergency review of %s: %w", requestID, bot.ErrNotFound)
	}
	return rs[0], nil
}

// ListEmergencyReviews implements bot.EmergencyReviewStore.
func (s *Store) ListEmergencyReviews(ctx context.Context, pendingOnly bool) ([]bot.EmergencyReview, error) {
	cond := ``
	if pendingOnly {
		cond = `WHERE outcome = ''`
	}
	rs, err := queryEmergencyReviews(ctx, s.db, cond+` ORDER BY deployed_at, request_id`)
	if err != nil {
		return nil, fmt.Errorf("list emergency reviews: %w", err)
	}
	return rs, nil
}

// UpdateEmergencyReview implements bot.EmergencyReviewStore.
func (s *Store) UpdateEmergencyReview(ctx context.Context, requestID string, change func(*bot.EmergencyReview) ([]bot.AuditEvent, error)) (bot.EmergencyReview, error) {
	var out bot.EmergencyReview
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		rs, err := queryEmergencyReviews(ctx, tx, `WHERE request_id = ?`+s.dialect.forUpdate, requestID)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("emergency review of %s: %w", requestID, bot.ErrNotFound)
		}
		cur := rs[0]
		events, err := change(&cur)
		if err != nil {
			return err
		}
		if cur.RequestID != requestID {
			return fmt.Errorf("update emergency review %s: the request id cannot change", requestID)
		}
		v, err := emergencyReviewValues(cur)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, upsert("emergency_reviews", emergencyReviewColumns, "request_id"), v...); err != nil {
			return err
		}
		if err := s.appendEvents(ctx, tx, events); err != nil {
			return err
		}
		out = cur
		return nil
	})
	if err != nil {
		return bot.EmergencyReview{}, err
	}
	return out, nil
}

func emergencyReviewValues(r bot.EmergencyReview) ([]any, error) {
	teams := make([]string, len(r.Approvers))
	for i, t := range r.Approvers {
		teams[i] = t.String()
	}
	approvers, err := json.Marshal(teams)
	if err != nil {
		return nil, err
	}
	return []any{r.RequestID, r.Repo, r.Environment, r.SHA, r.Deployer.Login, r.Deployer.GitHubID, r.Deployer.ChatUser,
		r.Reason, r.Ticket, string(approvers), nanos(r.DeployedAt), nanos(r.OpenedAt), nanos(r.DueAt), r.Reminders,
		nanos(r.LastRemindedAt), nanos(r.OverdueAt), string(r.Outcome), r.Reviewer.Login, r.Reviewer.GitHubID,
		r.Reviewer.ChatUser, nanos(r.ReviewedAt), r.Note}, nil
}

func queryEmergencyReviews(ctx context.Context, q rowQueryer, tail string, args ...any) ([]bot.EmergencyReview, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+emergencyReviewColumns+` FROM emergency_reviews `+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.EmergencyReview
	for rows.Next() {
		var r bot.EmergencyReview
		var approvers, outcome string
		var deployed, opened, due, reminded, overdue, reviewed int64
		if err := rows.Scan(&r.RequestID, &r.Repo, &r.Environment, &r.SHA, &r.Deployer.Login, &r.Deployer.GitHubID,
			&r.Deployer.ChatUser, &r.Reason, &r.Ticket, &approvers, &deployed, &opened, &due, &r.Reminders, &reminded,
			&overdue, &outcome, &r.Reviewer.Login, &r.Reviewer.GitHubID, &r.Reviewer.ChatUser, &reviewed, &r.Note); err != nil {
			return nil, err
		}
		var teams []string
		if err := json.Unmarshal([]byte(approvers), &teams); err != nil {
			return nil, fmt.Errorf("emergency review of %s: approvers: %w", r.RequestID, err)
		}
		for _, t := range teams {
			team, err := bot.ParseTeam(t)
			if err != nil {
				return nil, fmt.Errorf("emergency review of %s: %w", r.RequestID, err)
			}
			r.Approvers = append(r.Approvers, team)
		}
		r.Outcome = bot.ReviewOutcome(outcome)
		r.DeployedAt, r.OpenedAt, r.DueAt = fromNanos(deployed), fromNanos(opened), fromNanos(due)
		r.LastRemindedAt, r.OverdueAt, r.ReviewedAt = fromNanos(reminded), fromNanos(overdue), fromNanos(reviewed)
		out = append(out, r)
	}
	return out, rows.Err()
}
