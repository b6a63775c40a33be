package store

import (
	"context"
	"database/sql"
	"fmt"
)

// ReleaseInboxLeases makes every pending inbox item claimable at once,
// dropping the leases of a process that died while holding them, and
// returns how many were released. Without it those deliveries wait for
// their lease (Options.InboxLease) to run out before being retried. Call
// it only at startup, before the inbox worker runs, and only when this is
// the one process serving the database: a live process's leases would be
// dropped too. On PostgreSQL, where several processes share the inbox and
// a live one's leases cannot be told from a dead one's, it releases
// nothing and returns 0: those leases run out on their own.
func (s *Store) ReleaseInboxLeases(ctx context.Context) (int, error) {
	if s.dialect.postgres {
		return 0, nil
	}
	var n int64
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE inbox SET lease_until = 0 WHERE state = 'pending' AND lease_until > 0`)
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
