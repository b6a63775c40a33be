package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store/audit"
)

func init() {
	registerGroup(group{name: "attest",
		about: []string{"Checks deployment attestations offline, with public keys only (docs/attestation.md)."},
		subs:  []subcommand{{"verify", "verify the attestation of a release: FILE or RELEASE-DIR", runAttestVerify}}},
		"verify a deployment attestation offline: attest verify FILE|RELEASE-DIR")
}

// retiredKeys is the repeatable --retired-key FILE@TIME flag.
type retiredKeys []attest.PublicKey

func (r *retiredKeys) String() string { return fmt.Sprint(len(*r)) }

// Set loads FILE and sets its retirement time (RFC 3339, or a UTC day).
func (r *retiredKeys) Set(v string) error {
	if !strings.Contains(v, "@") {
		return errors.New("want FILE@TIME, e.g. old.pub@2026-01-15T00:00:00Z")
	}
	file, at, err := attest.SplitRetiredKey(v)
	if err != nil {
		return err
	}
	k, err := attest.LoadPublicKey(file)
	if err != nil {
		return err
	}
	k.RetiredAt = at
	*r = append(*r, k)
	return nil
}

func runAttestVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("attest verify", stdout, stderr,
		[]string{"tollgate attest verify FILE|RELEASE-DIR --public-key FILE [--public-key FILE]... --audit-key FILE [--audit-key FILE]...",
			"    [--retired-key FILE@TIME]... [--repository OWNER/NAME] [--environment E] [--commit SHA]",
			"    [--min-approvals N] [--not-emergency]"},
		"Checks a release's attestation (a release directory fetched from a server holds it at",
		attest.FileName+") with public keys only: its signature, the inclusion proof of the",
		"deploy's audit entries against the signed checkpoint, and the expectations given.",
		"Exit 0 verified, 1 a check failed (named on the FAIL line), 2 bad usage.",
	)
	var publicKeys, auditKeys keyFiles
	var retired retiredKeys
	var exp attest.Expectations
	fs.Var(&publicKeys, "public-key", "attestation public key `FILE`; repeat it for keys rotated out")
	fs.Var(&auditKeys, "audit-key", "audit public key `FILE` (checkpoints); repeat it for keys rotated out")
	fs.Var(&retired, "retired-key", "attestation public key rotated out at a time, `FILE@TIME`: it verifies only attestations checkpointed before then")
	fs.StringVar(&exp.Repository, "repository", "", "expect this `OWNER/NAME`")
	fs.StringVar(&exp.Environment, "environment", "", "expect this environment `E`")
	fs.StringVar(&exp.Commit, "commit", "", "expect this full commit `SHA`")
	fs.IntVar(&exp.MinApprovals, "min-approvals", 0, "expect at least `N` valid approvals (of the commit, under the policy, not by the requester)")
	fs.BoolVar(&exp.NotEmergency, "not-emergency", false, "refuse an emergency change")
	if code, done := fs.Parse(args, "FILE|RELEASE-DIR"); done {
		return code
	}
	pos := fs.Pos
	if exp.MinApprovals < 0 {
		return fs.Fail("--min-approvals must not be negative")
	}
	if len(publicKeys)+len(retired) == 0 || len(auditKeys) == 0 {
		return fs.Fail("--public-key FILE and --audit-key FILE are required")
	}
	var err error
	keys := attest.Keys{Attestation: []attest.PublicKey(retired)}
	for _, f := range publicKeys {
		k, err := attest.LoadPublicKey(f)
		if err != nil {
			fmt.Fprintf(stderr, "tollgate attest verify: %v\n", err)
			return exitUsage
		}
		keys.Attestation = append(keys.Attestation, k)
	}
	if keys.Audit, err = audit.LoadKeyring(auditKeys...); err != nil {
		fmt.Fprintf(stderr, "tollgate attest verify: %v\n", err)
		return exitUsage
	}
	if _, err := os.Stat(pos[0]); err != nil {
		fmt.Fprintf(stderr, "tollgate attest verify: %v\n", err)
		return exitUsage
	}
	data, file, err := attest.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintf(stdout, "FAIL: %s: %v\n", attest.CheckEnvelope, err)
		return exitCheckFailed
	}
	v, err := attest.Verify(ctx, data, keys, exp)
	if err != nil {
		fmt.Fprintf(stdout, "FAIL: %v\n", err)
		return exitCheckFailed
	}
	v.WriteSummary(stdout, file)
	return exitOK
}
