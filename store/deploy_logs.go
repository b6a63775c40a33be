package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Deployment logs live in the database, so the log page of a deploy shows
// it on every replica (issue 12). A deploy appends its output in chunks as
// it runs (server/deploylog.go buffers and flushes them); the page reads
// them back in order.

// AppendDeployLog appends chunk to the deployment log of request id.
func (s *Store) AppendDeployLog(ctx context.Context, id string, chunk []byte) error {
	if len(chunk) == 0 {
		return nil
	}
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		// One deploy writes a request's log, so there is no race for the
		// next number; the primary key would refuse one regardless.
		_, err := tx.ExecContext(ctx, `INSERT INTO deploy_logs (request_id, chunk, at, data)
			VALUES (?, (SELECT coalesce(max(chunk), 0) + 1 FROM deploy_logs WHERE request_id = ?), ?, ?)`,
			id, id, s.now().UnixNano(), chunk)
		return err
	})
	if err != nil {
		return fmt.Errorf("append to the deployment log of %s: %w", id, err)
	}
	return nil
}

// DeployLog returns request id's deployment log; ok is false when it has
// none.
func (s *Store) DeployLog(ctx context.Context, id string) (log []byte, ok bool, err error) {
	rows, err := s.db.QueryContext(ctx, `SELECT data FROM deploy_logs WHERE request_id = ? ORDER BY chunk`, id)
	if err != nil {
		return nil, false, fmt.Errorf("read the deployment log of %s: %w", id, err)
	}
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			rows.Close()
			return nil, false, fmt.Errorf("read the deployment log of %s: %w", id, err)
		}
		log, ok = append(log, b...), true
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, false, fmt.Errorf("read the deployment log of %s: %w", id, err)
	}
	return log, ok, nil
}
