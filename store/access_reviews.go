package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

const accessReviewColumns = `id, taken_at, taken_by, grants, added, removed, previous_id, digest,
	outcome, signed_off_login, signed_off_id, signed_off_slack, signed_off_at, note`

// SaveAccessReview implements bot.AccessReviewStore.
func (s *Store) SaveAccessReview(ctx context.Context, r bot.AccessReview, ev bot.AuditEvent) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		if err := writeAccessReview(ctx, tx, `INSERT INTO access_reviews (`+accessReviewColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, []bot.AuditEvent{ev})
	})
	if err != nil {
		return fmt.Errorf("save access review %s: %w", r.ID, err)
	}
	return nil
}

// AccessReview implements bot.AccessReviewStore.
func (s *Store) AccessReview(ctx context.Context, id string) (bot.AccessReview, error) {
	rs, err := queryAccessReviews(ctx, s.db, `WHERE id = ?`, id)
	if err != nil {
		return bot.AccessReview{}, fmt.Errorf("access review %s: %w", id, err)
	}
	if len(rs) == 0 {
		return bot.AccessReview{}, fmt.Errorf("access review %s: %w", id, bot.ErrNotFound)
	}
	return rs[0], nil
}

// LatestAccessReview implements bot.AccessReviewStore.
func (s *Store) LatestAccessReview(ctx context.Context, signedOnly bool) (bot.AccessReview, bool, error) {
	cond := ``
	if signedOnly {
		cond = `WHERE outcome != ''`
	}
	rs, err := queryAccessReviews(ctx, s.db, cond+` ORDER BY taken_at DESC, rowid DESC LIMIT 1`)
	if err != nil {
		return bot.AccessReview{}, false, fmt.Errorf("latest access review: %w", err)
	}
	if len(rs) == 0 {
		return bot.AccessReview{}, false, nil
	}
	return rs[0], true, nil
}

// ListAccessReviews returns every access review, oldest first (evidence).
func (s *Store) ListAccessReviews(ctx context.Context) ([]bot.AccessReview, error) {
	rs, err := queryAccessReviews(ctx, s.db, `ORDER BY taken_at, rowid`)
	if err != nil {
		return nil, fmt.Errorf("list access reviews: %w", err)
	}
	return rs, nil
}

// UpdateAccessReview implements bot.AccessReviewStore.
func (s *Store) UpdateAccessReview(ctx context.Context, id string, change func(*bot.AccessReview) ([]bot.AuditEvent, error)) (bot.AccessReview, error) {
	var out bot.AccessReview
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		rs, err := queryAccessReviews(ctx, tx, `WHERE id = ?`+s.dialect.forUpdate, id)
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("access review %s: %w", id, bot.ErrNotFound)
		}
		cur := rs[0]
		events, err := change(&cur)
		if err != nil {
			return err
		}
		if cur.ID != id {
			return fmt.Errorf("update access review %s: the id cannot change", id)
		}
		if err := writeAccessReview(ctx, tx, upsert("access_reviews", accessReviewColumns, "id"), cur); err != nil {
			return err
		}
		if err := s.appendEvents(ctx, tx, events); err != nil {
			return err
		}
		out = cur
		return nil
	})
	return out, err
}

// writeAccessReview runs insert (an INSERT or upsert of accessReviewColumns) for r.
func writeAccessReview(ctx context.Context, tx *sql.Tx, insert string, r bot.AccessReview) error {
	enc := func(gs []bot.AccessGrant) (string, error) {
		if gs == nil {
			gs = []bot.AccessGrant{}
		}
		b, err := json.Marshal(gs)
		return string(b), err
	}
	grants, err := enc(r.Grants)
	if err != nil {
		return err
	}
	added, err := enc(r.Added)
	if err != nil {
		return err
	}
	removed, err := enc(r.Removed)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, insert,
		r.ID, nanos(r.TakenAt), r.TakenBy, grants, added, removed, r.PreviousID, r.Digest, string(r.Outcome),
		r.SignedOffBy.Login, r.SignedOffBy.GitHubID, r.SignedOffBy.ChatUser, nanos(r.SignedOffAt), r.Note)
	return err
}

func queryAccessReviews(ctx context.Context, q rowQueryer, tail string, args ...any) ([]bot.AccessReview, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+accessReviewColumns+` FROM access_reviews `+tail, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []bot.AccessReview
	for rows.Next() {
		var r bot.AccessReview
		var grants, added, removed, outcome string
		var taken, signed int64
		if err := rows.Scan(&r.ID, &taken, &r.TakenBy, &grants, &added, &removed, &r.PreviousID, &r.Digest, &outcome,
			&r.SignedOffBy.Login, &r.SignedOffBy.GitHubID, &r.SignedOffBy.ChatUser, &signed, &r.Note); err != nil {
			return nil, err
		}
		for _, f := range []struct {
			raw string
			dst *[]bot.AccessGrant
		}{{grants, &r.Grants}, {added, &r.Added}, {removed, &r.Removed}} {
			if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
				return nil, fmt.Errorf("access review %s: grants: %w", r.ID, err)
			}
		}
		r.Outcome = bot.AccessReviewOutcome(outcome)
		r.TakenAt, r.SignedOffAt = fromNanos(taken), fromNanos(signed)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ListLinks implements bot.AccessReviewStore.
func (s *Store) ListLinks(ctx context.Context) ([]bot.Link, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT slack_team, slack_user, github_login, github_id, linked_at
		FROM identity_links ORDER BY github_login, slack_team, slack_user`)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	defer rows.Close()
	var out []bot.Link
	for rows.Next() {
		var l bot.Link
		var linked int64
		if err := rows.Scan(&l.Chat.Workspace, &l.Chat.User, &l.GitHubLogin, &l.GitHubID, &linked); err != nil {
			return nil, fmt.Errorf("list links: %w", err)
		}
		l.LinkedAt, l.Chat.Platform = fromNanos(linked), bot.PlatformSlack
		out = append(out, l)
	}
	return out, rows.Err()
}

// MarkOrgMembersSeen implements bot.AccessReviewStore.
func (s *Store) MarkOrgMembersSeen(ctx context.Context, org string, members []bot.Member, at time.Time) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, upsert("org_members_seen", `org, login, github_id, last_seen_at`, "org, login"))
		if err != nil {
			return err
		}
		defer st.Close()
		for _, m := range members {
			if _, err := st.ExecContext(ctx, strings.ToLower(org), strings.ToLower(m.Login), m.GitHubID, nanos(at)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("record members of %s: %w", org, err)
	}
	return nil
}

// OrgMemberLastSeen implements bot.AccessReviewStore.
func (s *Store) OrgMemberLastSeen(ctx context.Context, org, login string) (time.Time, bool, error) {
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT last_seen_at FROM org_members_seen WHERE org = ? AND login = ?`,
		strings.ToLower(org), strings.ToLower(login)).Scan(&at)
	if err == sql.ErrNoRows {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("when was %s last in %s: %w", login, org, err)
	}
	return fromNanos(at), true, nil
}

// Reminded implements bot.ReminderStore.
func (s *Store) Reminded(ctx context.Context, key string) (time.Time, int, error) {
	var at int64
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT last_at, count FROM reminders WHERE key = ?`, key).Scan(&at, &n)
	if err == sql.ErrNoRows {
		return time.Time{}, 0, nil
	}
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("reminders of %s: %w", key, err)
	}
	return fromNanos(at), n, nil
}

// RecordReminder implements bot.ReminderStore.
func (s *Store) RecordReminder(ctx context.Context, key string, at time.Time, count int, ev bot.AuditEvent) error {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		// A compare-and-swap on the count: of replicas racing to send the
		// same reminder, one records it (and sends it), the others learn.
		res, err := tx.ExecContext(ctx, upsert("reminders", `key, last_at, count`, "key")+
			` WHERE reminders.count < excluded.count`, key, nanos(at), count)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errors.Join(err, fmt.Errorf("reminder %d already recorded: %w", count, bot.ErrConflict))
		}
		return s.appendEvents(ctx, tx, []bot.AuditEvent{ev})
	})
	if err != nil {
		return fmt.Errorf("record reminder of %s: %w", key, err)
	}
	return nil
}

// ListLocks implements bot.ReminderStore.
func (s *Store) ListLocks(ctx context.Context) ([]bot.Lock, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT repo, environment FROM env_locks ORDER BY repo, environment`)
	if err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	var keys [][2]string
	for rows.Next() {
		var k [2]string
		if err := rows.Scan(&k[0], &k[1]); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list locks: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list locks: %w", err)
	}
	out := make([]bot.Lock, 0, len(keys))
	for _, k := range keys {
		l, err := lockOf(ctx, s.db, k[0], k[1])
		if err == sql.ErrNoRows {
			continue // released meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list locks: %w", err)
		}
		out = append(out, l)
	}
	return out, nil
}

// compile-time check: the store keeps everything the compliance controls need.
var _ bot.ComplianceStore = (*Store)(nil)
