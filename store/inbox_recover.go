package store

import (
	"context"
	"database/sql"
	"fmt"
)

// ReleaseInboxLeases makes claimable at once every pending inbox item
// leased by a replica that is not alive (replicas.go) or by no named
// replica, dropping the leases of processes that died while holding them,
// and returns how many it released. The leases of live replicas, this
// store's own included, stay. ClaimDue already takes over a dead
// replica's items; this clears the record at startup, so the counts and
// the metrics say what is really held. On SQLite, call RegisterReplica
// first: it removes the rows of local processes that were killed, whose
// leases are then released here.
func (s *Store) ReleaseInboxLeases(ctx context.Context) (int, error) {
	var n int64
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE inbox SET lease_until = 0, lease_owner = ''
			WHERE state = 'pending' AND lease_until > 0 AND (lease_owner = '' OR NOT `+liveReplica("inbox.lease_owner")+`)`,
			s.wall().UnixNano())
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("release inbox leases: %w", err)
	}
	return int(n), nil
}
