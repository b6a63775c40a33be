package evidence

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store"
)

// AttestationsDir holds the deployment attestation of every sampled
// change that went live: attestations/<request id>.dsse.json, the envelope
// exactly as written on the servers (docs/attestation.md).
const AttestationsDir = "attestations"

// writeAttestation copies a sampled change's attestation into the pack;
// a change without one has its exception (live_without_attestation).
func writeAttestation(ctx context.Context, st *store.Store, dir string, c *Change) error {
	if !c.WentLive() {
		return nil
	}
	a, err := st.Attestation(ctx, c.ID)
	if errors.Is(err, store.ErrNoAttestation) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sample %s: %w", c.ID, err)
	}
	return writeFile(filepath.Join(dir, AttestationsDir, c.ID+".dsse.json"), a.Envelope)
}

// PackAttestationCheck is the re-verification of a pack's attestations.
type PackAttestationCheck struct {
	Verified int      // attestations that verified
	Problems []string // one per attestation that did not, naming its file
}

// OK reports whether every attestation verified.
func (c PackAttestationCheck) OK() bool { return len(c.Problems) == 0 }

// Text is the check's report for `tollgate evidence verify`, err being
// CheckPackAttestations' error: a FAIL line per problem, or one OK line.
func (c PackAttestationCheck) Text(err error) string {
	var b strings.Builder
	for _, p := range c.Problems {
		fmt.Fprintf(&b, "FAIL: %s\n", p)
	}
	switch {
	case err != nil:
		fmt.Fprintf(&b, "FAIL: attestations: %v\n", err)
	case !c.OK():
		fmt.Fprintf(&b, "attestations: %d of %d do not verify\n", len(c.Problems), len(c.Problems)+c.Verified)
	default:
		fmt.Fprintf(&b, "OK: attestations: %s re-verified (signature, audit proofs, the audit log's digest)\n", countText(c.Verified, "attestation", "attestations"))
	}
	return b.String()
}

// CheckPackAttestations re-verifies every attestation in dir's
// attestations/ offline (attest.Verify with the attestation keys and the
// audit keys): it must be about the request its file names, and its
// digest must be the one the release.attested entry in audit.jsonl
// records, when the pack holds that entry.
func CheckPackAttestations(ctx context.Context, dir string, keyFiles []string, audit []note.Verifier) (PackAttestationCheck, error) {
	var res PackAttestationCheck
	files, err := filepath.Glob(filepath.Join(dir, AttestationsDir, "*.dsse.json"))
	if err != nil || len(files) == 0 {
		return res, err
	}
	var keys []attest.PublicKey
	for _, f := range keyFiles {
		k, err := attest.LoadPublicKey(f)
		if err != nil {
			return res, err
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return res, fmt.Errorf("%s/ holds %s: give --attestation-key to verify them", AttestationsDir, countText(len(files), "attestation", "attestations"))
	}
	logged, err := attestedDigests(filepath.Join(dir, "audit.jsonl"))
	if err != nil {
		return res, err
	}
	for _, f := range files {
		id := strings.TrimSuffix(filepath.Base(f), ".dsse.json")
		name := AttestationsDir + "/" + filepath.Base(f)
		data, err := os.ReadFile(f)
		if err != nil {
			return res, err
		}
		v, err := attest.Verify(ctx, data, attest.Keys{Attestation: keys, Audit: audit}, attest.Expectations{})
		switch {
		case err != nil:
			res.Problems = append(res.Problems, fmt.Sprintf("%s: %v", name, err))
		case v.Statement.Predicate.RequestID != id:
			res.Problems = append(res.Problems, fmt.Sprintf("%s: attests request %s, not %s", name, v.Statement.Predicate.RequestID, id))
		case logged[id] != "" && logged[id] != v.EnvelopeDigest:
			res.Problems = append(res.Problems, fmt.Sprintf("%s: digest %s, the audit log's release.attested entry records %s", name, v.EnvelopeDigest, logged[id]))
		default:
			res.Verified++
		}
	}
	return res, nil
}

// attestedDigests reads the release.attested entries of audit.jsonl:
// request id → envelope digest.
func attestedDigests(path string) (map[string]string, error) {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	for line := 1; ; line++ {
		var l jsonLine
		if err := dec.Decode(&l); errors.Is(err, io.EOF) {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("audit.jsonl line %d: %w", line, err)
		}
		if l.Action != store.ActionReleaseAttested {
			continue
		}
		var d struct {
			Digest string `json:"digest"`
		}
		if err := json.Unmarshal(l.Data, &d); err == nil {
			out[l.Subject] = d.Digest
		}
	}
}
