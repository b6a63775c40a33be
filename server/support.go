package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/internal/httpserver"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// errProbe rolls back the readiness probe's transaction.
var errProbe = errors.New("readiness probe")

// readinessChecks are /readyz's conditions: the database takes a write
// transaction (it fails when the database is unreachable, within the
// check's 2 s), this replica's heartbeat is current, a configuration is
// loaded, and the audit signing key is still the one in use (auditKeyReady).
func (s *Server) readinessChecks() []httpserver.Check {
	return []httpserver.Check{
		{Name: "database", Fn: func(ctx context.Context) error {
			// BEGIN IMMEDIATE takes the write lock: a read-only or full
			// file, or a lock held elsewhere, fails here.
			err := s.store.WithTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `SELECT count(*) FROM inbox`); err != nil {
					return err
				}
				return errProbe
			})
			if errors.Is(err, errProbe) {
				return nil
			}
			return fmt.Errorf("not writable: %w", err)
		}},
		{Name: "replica", Fn: func(context.Context) error {
			// A replica whose heartbeat lapsed has dropped its work and
			// takes none until it gets through again.
			if s.replica.lapsed() {
				return fmt.Errorf("no heartbeat got through to the database for %s (lease %s)",
					s.replica.heartbeatAge().Round(time.Second), s.replica.lease)
			}
			return nil
		}},
		{Name: "config", Fn: func(context.Context) error {
			cfg := s.live.Current()
			if cfg == nil || cfg.Hash() == "" {
				return errors.New("no configuration loaded")
			}
			return nil
		}},
		{Name: "audit key", Fn: func(context.Context) error {
			return auditKeyReady(s.live.Current().Audit, s.signer)
		}},
	}
}

// auditKeyReady checks that the configured signing key is still the one
// in use, and that the configured public keys (the current one and those
// rotated out) load and include it: checkpoints signed now must verify
// with `tollgate verify --config`.
func auditKeyReady(a config.Audit, signer note.Signer) error {
	k, err := audit.LoadSigner(a.SigningKeyFile)
	if err != nil {
		return fmt.Errorf("signing key %s unreadable", a.SigningKeyFile)
	}
	if k.KeyHash() != signer.KeyHash() || k.Name() != signer.Name() {
		return fmt.Errorf("signing key %s changed since start; restart to use it", a.SigningKeyFile)
	}
	keys, err := a.Keyring()
	if err != nil {
		return err
	}
	if _, err := SignerFirst(signer, keys); err != nil {
		return fmt.Errorf("checkpoints signed now would not verify: %w", err)
	}
	return nil
}

// auditEntries returns the audit entries about a request, oldest first.
func (s *Server) auditEntries(ctx context.Context, id string) ([]audit.Entry, error) {
	rows, err := s.store.DB().QueryContext(ctx, `SELECT seq FROM audit_entries WHERE subject = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("audit entries of %s: %w", id, err)
	}
	var seqs []int64
	for rows.Next() {
		var seq int64
		if err := rows.Scan(&seq); err != nil {
			rows.Close()
			return nil, fmt.Errorf("audit entries of %s: %w", id, err)
		}
		seqs = append(seqs, seq)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, fmt.Errorf("audit entries of %s: %w", id, err)
	}
	out := make([]audit.Entry, 0, len(seqs))
	for _, seq := range seqs {
		e, err := s.store.Audit().Get(ctx, seq)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
