package attest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/internal/auditproof"
)

// Keys are the public keys a verifier trusts, each list the current key
// and those rotated out.
type Keys struct {
	Attestation []PublicKey     // sign attestations
	Audit       []note.Verifier // sign audit checkpoints
}

// Expectations are facts the attested deploy must match. The zero value
// of a field checks nothing.
type Expectations struct {
	Repository   string
	Environment  string
	Commit       string
	MinApprovals int  // valid approvals (ValidApprovals), at least
	NotEmergency bool // refuse an emergency change
}

// Check names, in the order Verify runs them; a CheckError names one.
const (
	CheckEnvelope     = "envelope"       // a DSSE envelope of an in-toto payload
	CheckSignature    = "signature"      // signed by a trusted attestation key
	CheckStatement    = "statement"      // an in-toto v1 Statement with a valid deployment predicate
	CheckAuditProof   = "audit-proof"    // the deploy's entries are in the signed audit log
	CheckKeyRetired   = "key-retirement" // the signing key was not retired when it signed
	CheckRepository   = "repository"
	CheckEnvironment  = "environment"
	CheckCommit       = "commit"
	CheckMinApprovals = "min-approvals"
	CheckNotEmergency = "not-emergency"
)

// CheckError is a failed check: Check names it, Err says why.
type CheckError struct {
	Check string
	Err   error
}

func (e *CheckError) Error() string { return e.Check + ": " + e.Err.Error() }
func (e *CheckError) Unwrap() error { return e.Err }

// Verified is a verified attestation.
type Verified struct {
	Statement Statement
	// EnvelopeDigest is "sha256:<hex>" of the envelope bytes, the digest
	// the audit log records for the attestation.
	EnvelopeDigest string
	KeyID          string // the attestation key that signed it
	Checkpoint     CheckpointInfo
	Checks         []string // the checks that ran and passed, in order
}

// CheckpointInfo describes the audit checkpoint the entries are proven against.
type CheckpointInfo struct {
	Size int64
	Key  string // "<name>+<hash>" of the audit key that signed it
	Time time.Time
}

// Verify checks an attestation envelope: its signature over the exact
// signed bytes (DSSE PAE) by one of keys.Attestation, the in-toto
// statement and predicate, the inclusion proof of every audit entry
// against the checkpoint (signed by one of keys.Audit), the signing key's
// retirement, and exp. The error is a *CheckError naming the first check
// that failed; the Verified returned with it holds what was established
// before (the envelope digest, the checks passed).
func Verify(ctx context.Context, envelope []byte, keys Keys, exp Expectations) (Verified, error) {
	sum := sha256.Sum256(envelope)
	v := Verified{EnvelopeDigest: "sha256:" + hex.EncodeToString(sum[:])}
	env, err := decodeEnvelope(envelope)
	if err != nil {
		return v, &CheckError{Check: CheckEnvelope, Err: err}
	}
	v.Checks = append(v.Checks, CheckEnvelope)

	accepted, payload, err := verifySignature(ctx, env, keys.Attestation)
	if err != nil {
		return v, &CheckError{Check: CheckSignature, Err: err}
	}
	v.Checks = append(v.Checks, CheckSignature)

	if v.Statement, err = decodeStatement(payload); err != nil {
		return v, &CheckError{Check: CheckStatement, Err: err}
	}
	v.Checks = append(v.Checks, CheckStatement)

	p := v.Statement.Predicate
	cp, err := checkAudit(p, keys.Audit)
	if err != nil {
		return v, &CheckError{Check: CheckAuditProof, Err: err}
	}
	v.Checkpoint = CheckpointInfo{Size: cp.Size, Key: cp.Key, Time: cp.Time}
	v.Checks = append(v.Checks, CheckAuditProof)

	if v.KeyID, err = unretired(accepted, cp); err != nil {
		return v, &CheckError{Check: CheckKeyRetired, Err: err}
	}
	v.Checks = append(v.Checks, CheckKeyRetired)

	for _, c := range expectationChecks(p, exp) {
		if c.err != nil {
			return v, &CheckError{Check: c.name, Err: c.err}
		}
		v.Checks = append(v.Checks, c.name)
	}
	return v, nil
}

// decodeEnvelope reads a DSSE envelope strictly.
func decodeEnvelope(data []byte) (*dsse.Envelope, error) {
	if len(data) > MaxSize {
		return nil, fmt.Errorf("%d bytes, more than the %d an attestation may have", len(data), MaxSize)
	}
	var env dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not a DSSE envelope: data after the JSON object")
	}
	if env.PayloadType != PayloadType {
		return nil, fmt.Errorf("payload type %q, want %q", env.PayloadType, PayloadType)
	}
	if len(env.Signatures) == 0 {
		return nil, errors.New("the envelope has no signature")
	}
	return &env, nil
}

// verifySignature checks the envelope's signatures over the DSSE
// pre-authentication encoding of the payload bytes and returns the keys
// that verified and the payload, exactly as signed.
func verifySignature(ctx context.Context, env *dsse.Envelope, trusted []PublicKey) ([]PublicKey, []byte, error) {
	var verifiers []dsse.Verifier
	byID := map[string]PublicKey{}
	var ids []string
	for _, k := range trusted {
		if _, dup := byID[k.ID]; dup || len(k.Key) == 0 {
			continue
		}
		byID[k.ID] = k
		ids = append(ids, k.ID)
		verifiers = append(verifiers, dsseVerifier{k})
	}
	if len(verifiers) == 0 {
		return nil, nil, errors.New("no attestation public key to verify with")
	}
	ev, err := dsse.NewEnvelopeVerifier(verifiers...)
	if err != nil {
		return nil, nil, err
	}
	acceptedKeys, payload, err := ev.VerifyAndDecode(ctx, env)
	if err != nil || len(acceptedKeys) == 0 {
		sigs := make([]string, len(env.Signatures))
		for i, s := range env.Signatures {
			if _, ok := byID[s.KeyID]; ok {
				return nil, nil, fmt.Errorf("the signature by key %s does not verify: the envelope changed after it was signed", s.KeyID)
			}
			sigs[i] = s.KeyID
			if sigs[i] == "" {
				sigs[i] = "(no key id)"
			}
		}
		return nil, nil, fmt.Errorf("not signed by a trusted attestation key (trusted: %s; signatures: %s)",
			strings.Join(ids, ", "), strings.Join(sigs, ", "))
	}
	accepted := make([]PublicKey, len(acceptedKeys))
	for i, a := range acceptedKeys {
		accepted[i] = byID[a.KeyID]
	}
	return accepted, payload, nil
}

// checkAudit verifies the checkpoint and every entry's inclusion proof.
func checkAudit(p Predicate, trusted []note.Verifier) (auditproof.Checkpoint, error) {
	cp, err := auditproof.OpenCheckpoint([]byte(p.Audit.Checkpoint), trusted...)
	if err != nil {
		return cp, fmt.Errorf("audit checkpoint: %w", err)
	}
	if cp.Time.Before(p.FinishedAt) {
		return cp, fmt.Errorf("the checkpoint was signed at %s, before the deploy finished at %s: it cannot cover the deploy's entries",
			cp.Time.Format(time.RFC3339Nano), p.FinishedAt.Format(time.RFC3339Nano))
	}
	for _, e := range p.Audit.Entries {
		if e.Subject != p.RequestID {
			return cp, fmt.Errorf("audit entry seq %d (%s) is about %q, not this deploy's request %q", e.Seq, e.Action, e.Subject, p.RequestID)
		}
		entry := auditproof.Entry{Seq: e.Seq, At: e.At, Actor: e.Actor, Action: e.Action, Subject: e.Subject, Data: []byte(e.Data)}
		if err := auditproof.CheckInclusion(entry, e.Proof, cp); err != nil {
			return cp, err
		}
	}
	return cp, nil
}

// unretired returns the id of an accepted key that was not retired when
// the attestation was signed. The attestation is signed after its audit
// checkpoint, whose time the audit key vouches for, so a key retired at
// or before that time cannot have signed it in its service.
func unretired(accepted []PublicKey, cp auditproof.Checkpoint) (string, error) {
	for _, k := range accepted {
		if k.RetiredAt.IsZero() || cp.Time.Before(k.RetiredAt) {
			return k.ID, nil
		}
	}
	k := accepted[0]
	return "", fmt.Errorf("signed by key %s after it was retired at %s (its audit checkpoint is of %s)",
		k.ID, k.RetiredAt.UTC().Format(time.RFC3339), cp.Time.Format(time.RFC3339Nano))
}
