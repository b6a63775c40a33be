package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// ActionReleaseAttested is the audit action recorded once a release's
// attestation is on every server (MarkAttestationWritten); its data has
// repo, environment, release, servers and digest ("sha256:<hex>" of the
// envelope).
const ActionReleaseAttested = "release.attested"

// Attestation is the signed deployment attestation of one request's
// release (docs/attestation.md), as stored.
type Attestation struct {
	RequestID   string
	Repo        string
	Environment string
	Release     string
	Digest      string // "sha256:<hex>" of Envelope
	Envelope    []byte // the DSSE envelope, exactly as written on the servers
	SignedAt    time.Time
	WrittenAt   time.Time // when it was on every server; zero until then
	AuditSeq    int64     // the release.attested entry; meaningful once WrittenAt is set
}

// ErrNoAttestation is returned for a request without an attestation.
var ErrNoAttestation = errors.New("no attestation")

// EnvelopeDigest is "sha256:<hex>" of an envelope's bytes.
func EnvelopeDigest(envelope []byte) string {
	sum := sha256.Sum256(envelope)
	return "sha256:" + hex.EncodeToString(sum[:])
}

const attestationColumns = `request_id, repo, environment, release_name, digest, envelope, signed_at, written_at, audit_seq`

// SaveAttestation stores a's envelope unless the request has one already,
// and returns the one stored: the first signed is the one kept, so a
// retry after a crash writes the same bytes everywhere.
func (s *Store) SaveAttestation(ctx context.Context, a Attestation) (Attestation, error) {
	if a.RequestID == "" || len(a.Envelope) == 0 {
		return Attestation{}, fmt.Errorf("save attestation of %q: request id and envelope are required", a.RequestID)
	}
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO attestations (`+attestationColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, 0, 0)
			ON CONFLICT (request_id) DO NOTHING`,
			a.RequestID, a.Repo, a.Environment, a.Release, EnvelopeDigest(a.Envelope), a.Envelope, nanos(a.SignedAt))
		return err
	})
	if err != nil {
		return Attestation{}, fmt.Errorf("save attestation of %s: %w", a.RequestID, err)
	}
	return s.Attestation(ctx, a.RequestID)
}

// Attestation returns the request's attestation, or ErrNoAttestation.
func (s *Store) Attestation(ctx context.Context, requestID string) (Attestation, error) {
	as, err := queryAttestations(ctx, s.db, `WHERE request_id = ?`, requestID)
	if err != nil {
		return Attestation{}, fmt.Errorf("attestation of %s: %w", requestID, err)
	}
	if len(as) == 0 {
		return Attestation{}, fmt.Errorf("attestation of %s: %w", requestID, ErrNoAttestation)
	}
	return as[0], nil
}

// AttestationsOf returns the attestations of the given requests, by
// request id; requests without one are absent.
func (s *Store) AttestationsOf(ctx context.Context, requestIDs []string) (map[string]Attestation, error) {
	out := map[string]Attestation{}
	for start := 0; start < len(requestIDs); start += 500 {
		ids := requestIDs[start:min(start+500, len(requestIDs))]
		args := make([]any, len(ids))
		marks := make([]byte, 0, 2*len(ids))
		for i, id := range ids {
			args[i] = id
			if i > 0 {
				marks = append(marks, ',')
			}
			marks = append(marks, '?')
		}
		as, err := queryAttestations(ctx, s.db, `WHERE request_id IN (`+string(marks)+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("attestations of %d requests: %w", len(requestIDs), err)
		}
		for _, a := range as {
			out[a.RequestID] = a
		}
	}
	return out, nil
}

// MarkAttestationWritten records that the request's attestation is on
// every server: it appends ev (the release.attested entry) and sets
// written_at and audit_seq in one transaction, once. A second call
// changes nothing and returns the attestation as first marked.
func (s *Store) MarkAttestationWritten(ctx context.Context, requestID string, at time.Time, ev audit.Event) (Attestation, error) {
	err := s.WithTx(ctx, func(tx *sql.Tx) error {
		var written int64
		err := tx.QueryRowContext(ctx, `SELECT written_at FROM attestations WHERE request_id = ?`+s.dialect.forUpdate, requestID).Scan(&written)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNoAttestation
		}
		if err != nil || written != 0 {
			return err
		}
		e, err := s.audit.Append(ctx, tx, ev)
		if err != nil {
			return fmt.Errorf("audit %s: %w", ev.Action, err)
		}
		_, err = tx.ExecContext(ctx, `UPDATE attestations SET written_at = ?, audit_seq = ? WHERE request_id = ?`, nanos(at), e.Seq, requestID)
		return err
	})
	if err != nil {
		return Attestation{}, fmt.Errorf("mark the attestation of %s written: %w", requestID, err)
	}
	return s.Attestation(ctx, requestID)
}

func queryAttestations(ctx context.Context, q rowQueryer, where string, args ...any) ([]Attestation, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+attestationColumns+` FROM attestations `+where+` ORDER BY request_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Attestation
	for rows.Next() {
		var a Attestation
		var signed, written int64
		if err := rows.Scan(&a.RequestID, &a.Repo, &a.Environment, &a.Release, &a.Digest, &a.Envelope, &signed, &written, &a.AuditSeq); err != nil {
			return nil, err
		}
		a.SignedAt, a.WrittenAt = fromNanos(signed), fromNanos(written)
		out = append(out, a)
	}
	return out, rows.Err()
}
