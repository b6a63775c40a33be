package attest

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// decodeStatement reads the signed payload: an in-toto v1 Statement of
// PredicateType whose subjects are the release manifest and the commit,
// with a valid predicate. protojson (validateInToto) refuses an object key
// given twice, which JSON parsers resolve differently, so what this reads
// is what any verifier reads.
func decodeStatement(payload []byte) (Statement, error) {
	if err := validateInToto(payload); err != nil {
		return Statement{}, err
	}
	var s statement
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Statement{}, fmt.Errorf("predicate: %w", err)
	}
	if s.PredicateType != PredicateType {
		return Statement{}, fmt.Errorf("predicate type %q, want %q", s.PredicateType, PredicateType)
	}
	p := s.Predicate
	if err := p.validate(); err != nil {
		return Statement{}, fmt.Errorf("predicate: %w", err)
	}
	if len(s.Subject) != 2 {
		return Statement{}, fmt.Errorf("%d subjects, want the release manifest and the commit", len(s.Subject))
	}
	m, c := s.Subject[0], s.Subject[1]
	if m.Name != manifestSubject(p.Release) || len(m.Digest) != 1 || !sha256Pattern.MatchString(m.Digest[algSHA256]) {
		return Statement{}, fmt.Errorf("subject 1 is not the sha256 of release %q's manifest", p.Release)
	}
	if c.Name != p.Repository || len(c.Digest) != 1 || c.Digest[algGitCommit] != p.Commit {
		return Statement{}, fmt.Errorf("subject 2 is not commit %s of %s (the predicate's)", p.Commit, p.Repository)
	}
	return Statement{ManifestDigest: "sha256:" + m.Digest[algSHA256], Predicate: p}, nil
}
