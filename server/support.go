package server

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/internal/httpserver"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// errProbe rolls back the readiness probe's transaction.
var errProbe = errors.New("readiness probe")

// readinessChecks are /readyz's conditions: the database takes a write
// transaction, a configuration is loaded, and the audit signing key is
// still the one in use (auditKeyReady).
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

// openDeployLog opens the deployment log of a request for appending; a
// log that cannot be opened is reported and the deploy goes on (its facts
// are in the audit log regardless).
func (s *Server) openDeployLog(id string) io.Writer {
	name, err := requestLogName(id)
	if err != nil {
		s.log.Error("deployment log", "request", id, "err", err)
		return nil
	}
	f, err := os.OpenFile(filepath.Join(s.logDir, name), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		s.log.Error("opening the deployment log", "request", id, "err", err)
		return nil
	}
	return f
}

// ReadDeployLog returns a request's deployment log, nil when it has none.
func (s *Server) ReadDeployLog(_ context.Context, id string) ([]byte, error) {
	name, err := requestLogName(id)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.logDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
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
