package server

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"

	ghint "github.com/tollgate-dev/tollgate/integrations/github"
)

// AuditFacts implements the Reporter's AuditFacts: the latest audit entry
// about a request and the newest signed checkpoint covering it.
func (s *Server) AuditFacts(ctx context.Context, requestID string) (ghint.AuditEntry, error) {
	var seq sql.NullInt64
	err := s.store.DB().QueryRowContext(ctx, `SELECT max(seq) FROM audit_entries WHERE subject = ?`, requestID).Scan(&seq)
	if err != nil {
		return ghint.AuditEntry{}, fmt.Errorf("latest audit entry of request %s: %w", requestID, err)
	}
	if !seq.Valid {
		return ghint.AuditEntry{}, fmt.Errorf("request %s has no audit entry", requestID)
	}
	e, err := s.store.Audit().Get(ctx, seq.Int64)
	if err != nil {
		return ghint.AuditEntry{}, err
	}
	out := ghint.AuditEntry{Seq: e.Seq, LeafHash: hex.EncodeToString(e.LeafHash[:])}
	cp, ok, err := s.store.Audit().LatestCheckpoint(ctx)
	if err != nil {
		return ghint.AuditEntry{}, err
	}
	if ok && cp.Size > e.Seq {
		out.CheckpointSize, out.RootPrefix = cp.Size, hex.EncodeToString(cp.Root[:])[:12]
	}
	return out, nil
}

// environmentInfo tells the Reporter about an environment, from the
// configuration in force.
func (s *Server) environmentInfo(repo, env string) ghint.EnvironmentInfo {
	e, ok := s.live.Current().Environment(repo, env)
	if !ok {
		return ghint.EnvironmentInfo{}
	}
	info := ghint.EnvironmentInfo{URL: e.EnvironmentURL, Production: e.Production, Transient: e.Transient}
	if len(e.Labels) > 0 {
		info.Label = e.Labels[0]
	}
	return info
}
