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
	"github.com/tollgate-dev/tollgate/store/audit"
)

// The Store implements bot.Store.
var _ bot.Store = (*Store)(nil)

const requestColumns = `id, source_key, repo, environment, ref, sha, trigger, state, state_reason,
	requester_login, requester_id, requester_slack, pr, reason, ticket, config_hash,
	required_approvals, approval_nonce, approval_deadline, github_deployment_id, protection_rule,
	release, external_refs, decision, result, created_at, updated_at, queued_at, started_at,
	finished_at, version`

// CreateRequest implements bot.RequestStore.
func (s *Store) CreateRequest(ctx context.Context, r bot.Request, events []bot.AuditEvent, notes ...bot.Notes) (bot.Request, bool, error) {
	var stored bot.Request
	created := false
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		prev, err := requestWhere(ctx, tx, `source_key = ?`, r.SourceKey)
		if err == nil {
			stored = prev
			return nil
		}
		if !errors.Is(err, bot.ErrNotFound) {
			return err
		}
		inserted, err := insertRequest(ctx, tx, r)
		if err != nil {
			return err
		}
		if !inserted { // another process created it since the read above
			stored, err = requestWhere(ctx, tx, `source_key = ?`, r.SourceKey)
			return err
		}
		if err := insertApprovals(ctx, tx, r.ID, r.Approvals); err != nil {
			return err
		}
		created = true
		if stored, err = requestWhere(ctx, tx, `id = ?`, r.ID); err != nil {
			return err
		}
		if r.State == bot.StateQueued {
			if err := s.wake(ctx, tx, WakeDeploy); err != nil {
				return err
			}
		}
		if err := s.queueNotes(ctx, tx, stored, notes); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, events) // last: see appendEvents
	})
	if err != nil {
		return bot.Request{}, false, fmt.Errorf("create request %s (%s): %w", r.ID, r.SourceKey, err)
	}
	return stored, created, nil
}

// insertRequest inserts r unless a request from the same source exists
// (inserted false): on PostgreSQL another process may have created it
// between CreateRequest's read and this insert.
func insertRequest(ctx context.Context, tx *sql.Tx, r bot.Request) (inserted bool, err error) {
	v, err := requestValues(r)
	if err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO requests (`+requestColumns+`, pr_number, pr_author_login)
		VALUES (`+strings.Repeat("?, ", 32)+`?) ON CONFLICT (source_key) DO NOTHING`, append(v, int64(1), prNumber(r), prAuthor(r))...)
	if isUniqueViolation(err) {
		return false, fmt.Errorf("request id %s is taken: %w", r.ID, bot.ErrConflict)
	}
	if err != nil {
		return false, fmt.Errorf("insert request %s: %w", r.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("insert request %s: %w", r.ID, err)
	}
	return n == 1, nil
}

// requestValues lists r's columns in requestColumns order, without version.
func requestValues(r bot.Request) ([]any, error) {
	pr, err := json.Marshal(r.PR)
	if err != nil {
		return nil, fmt.Errorf("encode PR of %s: %w", r.ID, err)
	}
	rule, err := json.Marshal(r.ProtectionRule)
	if err != nil {
		return nil, fmt.Errorf("encode protection rule of %s: %w", r.ID, err)
	}
	refs := r.ExternalRefs
	if refs == nil {
		refs = map[string]string{}
	}
	ext, err := json.Marshal(refs)
	if err != nil {
		return nil, fmt.Errorf("encode external refs of %s: %w", r.ID, err)
	}
	dec, err := json.Marshal(r.Decision)
	if err != nil {
		return nil, fmt.Errorf("encode decision of %s: %w", r.ID, err)
	}
	res, err := json.Marshal(r.Result)
	if err != nil {
		return nil, fmt.Errorf("encode result of %s: %w", r.ID, err)
	}
	return []any{r.ID, r.SourceKey, r.Repo, r.Environment, r.Ref, r.SHA, string(r.Trigger), string(r.State),
		r.StateReason, r.Requester.Login, r.Requester.GitHubID, r.Requester.ChatUser, string(pr), r.Reason,
		r.Ticket, r.ConfigHash, r.RequiredApprovals, r.ApprovalNonce, nanos(r.ApprovalDeadline),
		r.GitHubDeploymentID, string(rule), r.Release, string(ext), string(dec), string(res),
		nanos(r.CreatedAt), nanos(r.UpdatedAt), nanos(r.QueuedAt), nanos(r.StartedAt), nanos(r.FinishedAt)}, nil
}

func prNumber(r bot.Request) int {
	if r.PR == nil {
		return 0
	}
	return r.PR.Number
}

func prAuthor(r bot.Request) string {
	if r.PR == nil {
		return ""
	}
	return r.PR.Author.Login
}

// Request implements bot.RequestStore.
func (s *Store) Request(ctx context.Context, id string) (bot.Request, error) {
	r, err := requestWhere(ctx, s.db, `id = ?`, id)
	if err != nil {
		return bot.Request{}, fmt.Errorf("request %s: %w", id, err)
	}
	return r, nil
}

// RequestBySource implements bot.RequestStore.
func (s *Store) RequestBySource(ctx context.Context, key string) (bot.Request, error) {
	r, err := requestWhere(ctx, s.db, `source_key = ?`, key)
	if err != nil {
		return bot.Request{}, fmt.Errorf("request from %s: %w", key, err)
	}
	return r, nil
}

// ListRequests implements bot.RequestStore.
func (s *Store) ListRequests(ctx context.Context, f bot.RequestFilter) ([]bot.Request, error) {
	q, args, err := listQuery(f)
	if err != nil {
		return nil, err
	}
	return queryRequests(ctx, s.db, q, args...)
}

// listQuery is ListRequests' SQL. The states are literals (stateList), so
// the open requests of an environment are read through requests_active.
func listQuery(f bot.RequestFilter) (string, []any, error) {
	var where []string
	var args []any
	if f.Repo != "" {
		where, args = append(where, "repo = ?"), append(args, f.Repo)
	}
	if f.Environment != "" {
		where, args = append(where, "environment = ?"), append(args, f.Environment)
	}
	if f.Requester != 0 {
		where, args = append(where, "requester_id = ?"), append(args, f.Requester)
	}
	if f.Trigger != "" {
		where, args = append(where, "trigger = ?"), append(args, string(f.Trigger))
	}
	if len(f.States) > 0 {
		list, err := stateList(f.States)
		if err != nil {
			return "", nil, err
		}
		where = append(where, "state IN ("+list+")")
	}
	q := `SELECT ` + requestColumns + ` FROM requests`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	order := `created_at DESC, rowid DESC`
	if f.ByFinish {
		// Unfinished last on both engines (PostgreSQL sorts NULLs first in DESC).
		order = `finished_at IS NULL, finished_at DESC, created_at DESC, rowid DESC`
	}
	return q + ` ORDER BY ` + order + ` LIMIT ?`, append(args, limit), nil
}

// NextRunnable implements bot.RequestStore.
func (s *Store) NextRunnable(ctx context.Context) (bot.Request, error) {
	rs, err := queryRequests(ctx, s.db, `SELECT `+requestColumns+` FROM requests r
		WHERE state = 'queued' AND NOT EXISTS (SELECT 1 FROM requests x
			WHERE x.repo = r.repo AND x.environment = r.environment AND x.state = 'running')
		ORDER BY queued_at, created_at, rowid LIMIT 1`)
	if err != nil {
		return bot.Request{}, fmt.Errorf("next runnable request: %w", err)
	}
	if len(rs) == 0 {
		return bot.Request{}, fmt.Errorf("next runnable request: %w", bot.ErrNotFound)
	}
	return rs[0], nil
}

// UpdateRequest implements bot.RequestStore: read, change, and write back
// with UPDATE … WHERE id = ? AND state = ? AND version = ?, with the
// change's audit events, in one transaction.
func (s *Store) UpdateRequest(ctx context.Context, id string, change func(*bot.Request) ([]bot.AuditEvent, error), notes ...bot.Notes) (bot.Request, error) {
	var out bot.Request
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		cur, err := requestWhere(ctx, tx, `id = ?`+s.dialect.forUpdate, id)
		if err != nil {
			return fmt.Errorf("update request %s: %w", id, err)
		}
		next := cur
		next.Approvals = append([]bot.Approval(nil), cur.Approvals...)
		next.ExternalRefs = copyRefs(cur.ExternalRefs)
		events, err := change(&next)
		if err != nil {
			return err // the domain's verdict, unwrapped so refusals stay recognisable
		}
		if err := checkUpdate(cur, next); err != nil {
			return err
		}
		next.UpdatedAt = s.now().UTC()
		v, err := requestValues(next)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE requests SET (`+requestColumns+`, pr_number, pr_author_login) =
			(`+strings.Repeat("?, ", 32)+`?) WHERE id = ? AND state = ? AND version = ?`,
			append(v, cur.Version+1, prNumber(next), prAuthor(next), id, string(cur.State), cur.Version)...)
		if isUniqueViolation(err) {
			return fmt.Errorf("request %s: %s %s already has a running deploy: %w", id, cur.Repo, cur.Environment, bot.ErrConflict)
		}
		if err != nil {
			return fmt.Errorf("update request %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("update request %s from %s v%d: %w", id, cur.State, cur.Version, bot.ErrConflict)
		}
		if err := saveApprovals(ctx, tx, id, cur.Approvals, next.Approvals); err != nil {
			return err
		}
		if err := s.recordRun(ctx, tx, cur, next); err != nil {
			return err
		}
		if out, err = requestWhere(ctx, tx, `id = ?`, id); err != nil {
			return err
		}
		if err := s.queueNotes(ctx, tx, out, notes); err != nil {
			return err
		}
		return s.appendEvents(ctx, tx, events) // last: see appendEvents
	})
	if err != nil {
		return bot.Request{}, err
	}
	return out, nil
}

// checkUpdate refuses writes the domain must never make, whatever change did.
func checkUpdate(cur, next bot.Request) error {
	if next.ID != cur.ID || next.SourceKey != cur.SourceKey {
		return fmt.Errorf("update request %s: id and source key cannot change", cur.ID)
	}
	if next.State != cur.State && !bot.CanTransition(cur.State, next.State) &&
		!(cur.State == bot.StateRunning && next.State == bot.StateRolledBack) {
		return fmt.Errorf("update request %s: illegal transition %s → %s", cur.ID, cur.State, next.State)
	}
	return nil
}

func copyRefs(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// appendEvents appends the domain's audit events inside tx. Call it as
// the transaction's last statement: on PostgreSQL the append takes the
// audit sequencer's lock, which every replica's appends wait for and which
// is held until the commit, so whatever runs after it in the transaction
// holds up every other replica's audited change.
func (s *Store) appendEvents(ctx context.Context, tx *sql.Tx, events []bot.AuditEvent) error {
	if len(events) == 0 {
		return nil
	}
	evs := make([]audit.Event, len(events))
	for i, e := range events {
		evs[i] = audit.Event{Actor: e.Actor, Action: e.Action, Subject: e.Subject, Data: e.Data}
	}
	if _, err := s.audit.AppendBatch(ctx, tx, evs); err != nil {
		return fmt.Errorf("audit %s: %w", events[0].Action, err)
	}
	return nil
}

// AppendAudit implements bot.Store.
func (s *Store) AppendAudit(ctx context.Context, events ...bot.AuditEvent) error {
	return s.WithTx(ctx, func(tx *sql.Tx) error { return s.appendEvents(ctx, tx, events) })
}

type rowQueryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func requestWhere(ctx context.Context, q rowQueryer, cond string, args ...any) (bot.Request, error) {
	rs, err := queryRequests(ctx, q, `SELECT `+requestColumns+` FROM requests WHERE `+cond, args...)
	if err != nil {
		return bot.Request{}, err
	}
	if len(rs) == 0 {
		return bot.Request{}, bot.ErrNotFound
	}
	return rs[0], nil
}

func queryRequests(ctx context.Context, q rowQueryer, query string, args ...any) ([]bot.Request, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query requests: %w", err)
	}
	var out []bot.Request
	for rows.Next() {
		r, err := scanRequest(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query requests: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]string, len(out))
	for i := range out {
		ids[i] = out[i].ID
	}
	approvals, err := approvalsOf(ctx, q, ids) // one query for all rows, not one per row
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Approvals = approvals[out[i].ID]
	}
	return out, nil
}

func scanRequest(rows *sql.Rows) (bot.Request, error) {
	var r bot.Request
	var trigger, state, pr, rule, ext, dec, res string
	var deadline, created, updated, queued, started, finished int64
	err := rows.Scan(&r.ID, &r.SourceKey, &r.Repo, &r.Environment, &r.Ref, &r.SHA, &trigger, &state,
		&r.StateReason, &r.Requester.Login, &r.Requester.GitHubID, &r.Requester.ChatUser, &pr, &r.Reason,
		&r.Ticket, &r.ConfigHash, &r.RequiredApprovals, &r.ApprovalNonce, &deadline, &r.GitHubDeploymentID,
		&rule, &r.Release, &ext, &dec, &res, &created, &updated, &queued, &started, &finished, &r.Version)
	if err != nil {
		return bot.Request{}, fmt.Errorf("scan request: %w", err)
	}
	r.Trigger, r.State = bot.Trigger(trigger), bot.State(state)
	r.ApprovalDeadline, r.CreatedAt, r.UpdatedAt = fromNanos(deadline), fromNanos(created), fromNanos(updated)
	r.QueuedAt, r.StartedAt, r.FinishedAt = fromNanos(queued), fromNanos(started), fromNanos(finished)
	for _, f := range []struct {
		name string
		raw  string
		dst  any
	}{{"pr", pr, &r.PR}, {"protection_rule", rule, &r.ProtectionRule}, {"external_refs", ext, &r.ExternalRefs},
		{"decision", dec, &r.Decision}, {"result", res, &r.Result}} {
		if err := json.Unmarshal([]byte(f.raw), f.dst); err != nil {
			return bot.Request{}, fmt.Errorf("request %s: decode %s: %w", r.ID, f.name, err)
		}
	}
	return r, nil
}

// nanos stores a time as unix nanoseconds; the zero time is 0.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
