package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/tollgate-dev/tollgate/bot"
)

// Approvals are append-only: an UpdateRequest may add approvals and set
// RevokedAt on existing ones, nothing else. Evidence reads this table for
// approvals.csv. approvalsOf (requests_batch.go) reads them.

func insertApprovals(ctx context.Context, tx *sql.Tx, requestID string, as []bot.Approval) error {
	for _, a := range as {
		if _, err := tx.ExecContext(ctx, `INSERT INTO approvals (request_id, approver_login, approver_id,
			approver_slack, at, sha, config_hash, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			requestID, a.Approver.Login, a.Approver.GitHubID, a.Approver.ChatUser, nanos(a.At), a.SHA,
			a.ConfigHash, nanos(a.ExpiresAt), nanos(a.RevokedAt)); err != nil {
			return fmt.Errorf("insert approval of %s by %s: %w", requestID, a.Approver.Login, err)
		}
	}
	return nil
}

// saveApprovals writes the difference between the approvals read (old)
// and the ones the domain returned (next).
func saveApprovals(ctx context.Context, tx *sql.Tx, requestID string, old, next []bot.Approval) error {
	if len(next) < len(old) {
		return fmt.Errorf("request %s: approvals cannot be removed (had %d, got %d)", requestID, len(old), len(next))
	}
	for i, a := range old {
		b := next[i]
		if !a.Approver.Same(b.Approver) || !a.At.Equal(b.At) || a.SHA != b.SHA || a.ConfigHash != b.ConfigHash ||
			!a.ExpiresAt.Equal(b.ExpiresAt) {
			return fmt.Errorf("request %s: approval %d by %s cannot be rewritten", requestID, i, a.Approver.Login)
		}
		if a.RevokedAt.Equal(b.RevokedAt) {
			continue
		}
		if !a.RevokedAt.IsZero() {
			return fmt.Errorf("request %s: approval %d by %s was already revoked", requestID, i, a.Approver.Login)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE approvals SET revoked_at = ? WHERE id =
			(SELECT id FROM approvals WHERE request_id = ? ORDER BY id LIMIT 1 OFFSET ?)`,
			nanos(b.RevokedAt), requestID, i); err != nil {
			return fmt.Errorf("revoke approval %d of %s: %w", i, requestID, err)
		}
	}
	return insertApprovals(ctx, tx, requestID, next[len(old):])
}
