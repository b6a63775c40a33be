package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/encoding/protojson"
)

// PayloadType is the DSSE payload type of an in-toto Statement.
const PayloadType = "application/vnd.in-toto+json"

// Statement is what one attestation states: the release manifest it is
// about and the deployment predicate.
type Statement struct {
	// ManifestDigest is "sha256:<hex>" of the release manifest's canonical
	// encoding, exactly as deploy.Manifest.Digest returns it.
	ManifestDigest string
	Predicate      Predicate
}

// statement is the in-toto v1 Statement as it is signed.
type statement struct {
	Type          string    `json:"_type"`
	Subject       []subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Predicate `json:"predicate"`
}

type subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Subject digest algorithms (in-toto's names).
const (
	algSHA256    = "sha256"
	algGitCommit = "gitCommit"
)

// manifestSubject names the manifest subject of a release.
func manifestSubject(release string) string { return "release/" + release + "/manifest" }

// Sign returns the DSSE envelope of st, signed with key, as the file
// written next to the release (canonical JSON and a newline). It refuses
// an incomplete predicate rather than sign it.
func Sign(ctx context.Context, key SigningKey, st Statement) ([]byte, error) {
	if key.priv == nil {
		return nil, fmt.Errorf("sign attestation: no signing key")
	}
	hex, ok := strings.CutPrefix(st.ManifestDigest, "sha256:")
	if !ok || !sha256Pattern.MatchString(hex) {
		return nil, fmt.Errorf("sign attestation: manifest digest %q is not sha256:<hex>", st.ManifestDigest)
	}
	p := st.Predicate.utc().nonNil()
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("sign attestation of release %q: %w", p.Release, err)
	}
	payload, err := canonicalJSON(statement{
		Type: intoto.StatementTypeUri,
		Subject: []subject{
			{Name: manifestSubject(p.Release), Digest: map[string]string{algSHA256: hex}},
			{Name: p.Repository, Digest: map[string]string{algGitCommit: p.Commit}},
		},
		PredicateType: PredicateType,
		Predicate:     p,
	})
	if err != nil {
		return nil, fmt.Errorf("sign attestation of release %q: %w", p.Release, err)
	}
	if err := validateInToto(payload); err != nil {
		return nil, fmt.Errorf("sign attestation of release %q: %w", p.Release, err)
	}
	signer, err := dsse.NewEnvelopeSigner(dsseSigner{key})
	if err != nil {
		return nil, fmt.Errorf("sign attestation: %w", err)
	}
	env, err := signer.SignPayload(ctx, PayloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("sign attestation of release %q: %w", p.Release, err)
	}
	out, err := canonicalJSON(env)
	if err != nil {
		return nil, fmt.Errorf("encode attestation envelope: %w", err)
	}
	return append(out, '\n'), nil
}

// validateInToto checks payload against the in-toto v1 Statement protos.
func validateInToto(payload []byte) error {
	var s intoto.Statement
	if err := protojson.Unmarshal(payload, &s); err != nil {
		return fmt.Errorf("not an in-toto statement: %w", err)
	}
	if s.GetType() != intoto.StatementTypeUri {
		return fmt.Errorf("statement _type %q, want %q", s.GetType(), intoto.StatementTypeUri)
	}
	if err := s.Validate(); err != nil {
		return fmt.Errorf("invalid in-toto statement: %w", err)
	}
	return nil
}

// nonNil makes every list of p a list, so the JSON says [] rather than null.
func (p Predicate) nonNil() Predicate {
	if p.Servers == nil {
		p.Servers = []Server{}
	}
	if p.Approvals == nil {
		p.Approvals = []Approval{}
	}
	if p.Policy.Checks == nil {
		p.Policy.Checks = []Check{}
	}
	entries := make([]AuditEntry, len(p.Audit.Entries))
	copy(entries, p.Audit.Entries)
	for i := range entries {
		if entries[i].Proof == nil { // the proof of a tree of one entry
			entries[i].Proof = []tlog.Hash{}
		}
	}
	p.Audit.Entries = entries
	return p
}

// canonicalJSON encodes v with object keys sorted, no insignificant
// whitespace and no HTML escaping (store/audit's canonical form), so the
// same predicate always gives the same bytes.
func canonicalJSON(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tree); err != nil { // maps encode with sorted keys
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
