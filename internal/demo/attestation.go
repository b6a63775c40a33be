package demo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// Attestation key files the demo writes next to the audit key.
const (
	demoAttestKey = "attestation-signing.key"
	demoAttestPub = "attestation-signing.pub"
)

// stepAttestation fetches the production release's attestation from
// web-1, as an auditor would, and checks it offline with the public keys,
// as `tollgate attest verify` does. It continues the production deploy's
// section.
func (st *demoStory) stepAttestation(ctx context.Context) error {
	r, err := st.productionRequest(ctx)
	if err != nil {
		return err
	}
	if r.Result == nil || r.Result.Release == "" {
		return fmt.Errorf("%w: the production deploy named no release", errStory)
	}
	web1 := st.targets.Production.Servers[0]
	file := filepath.Join(web1.Root, "releases", r.Result.Release, attest.FileName)
	st.printf("  web-1 holds the release's signed attestation; an auditor checks it offline, with public keys only:\n")
	if err := st.waitFor(ctx, "the attestation on web-1", func(context.Context) (bool, error) {
		_, err := os.Stat(file)
		return err == nil, nil
	}); err != nil {
		return err
	}
	keys := filepath.Join(st.dir, "keys")
	pub, auditPub := filepath.Join(keys, demoAttestPub), filepath.Join(keys, "audit-signing.pub")
	st.printf("  $ scp web-1:%s attestation.dsse.json\n", strings.TrimPrefix(file, web1.Root+"/"))
	st.printf("  $ tollgate attest verify attestation.dsse.json --public-key %s --audit-key %s --environment production --min-approvals 1\n",
		st.relArgs([]string{pub})[0], st.relArgs([]string{auditPub})[0])
	data, _, err := attest.ReadFile(file)
	if err != nil {
		return err
	}
	k, err := attest.LoadPublicKey(pub)
	if err != nil {
		return err
	}
	ak, err := audit.LoadKeyring(auditPub)
	if err != nil {
		return err
	}
	v, err := attest.Verify(ctx, data, attest.Keys{Attestation: []attest.PublicKey{k}, Audit: ak},
		attest.Expectations{Environment: "production", MinApprovals: 1})
	if err != nil {
		st.printf("    FAIL: %v\n    (exit status 1)\n", err)
		return fmt.Errorf("%w: the production attestation does not verify: %v", errStory, err)
	}
	var summary strings.Builder
	v.WriteSummary(&summary, "attestation.dsse.json")
	for line := range strings.Lines(summary.String()) {
		st.printf("    %s", line)
	}
	st.printf("    (exit status 0)\n")
	return nil
}
