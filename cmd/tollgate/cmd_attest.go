package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store/audit"
)

func init() {
	register("attest", "verify a deployment attestation offline: attest verify FILE|RELEASE-DIR", runAttest)
}

func attestUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: tollgate attest verify FILE|RELEASE-DIR --public-key FILE [--public-key FILE]... --audit-key FILE [--audit-key FILE]...")
	fmt.Fprintln(w, "         [--retired-key FILE@TIME]... [--repository OWNER/NAME] [--environment E] [--commit SHA]")
	fmt.Fprintln(w, "         [--min-approvals N] [--not-emergency]")
	fmt.Fprintln(w, "Checks a release's attestation (a release directory fetched from a server holds it at")
	fmt.Fprintln(w, attest.FileName+") with public keys only: its signature, the inclusion proof of the")
	fmt.Fprintln(w, "deploy's audit entries against the signed checkpoint, and the expectations given.")
	fmt.Fprintln(w, "Exit 0 verified, 1 a check failed (named on the FAIL line), 2 bad usage.")
}

// retiredKeys is the repeatable --retired-key FILE@TIME flag.
type retiredKeys []attest.PublicKey

func (r *retiredKeys) String() string { return fmt.Sprint(len(*r)) }

// Set loads FILE and sets its retirement time (RFC 3339, or a UTC day).
func (r *retiredKeys) Set(v string) error {
	i := strings.LastIndex(v, "@")
	if i < 0 {
		return errors.New("want FILE@TIME, e.g. old.pub@2026-01-15T00:00:00Z")
	}
	at, err := time.Parse(time.RFC3339, v[i+1:])
	if err != nil {
		if at, err = time.Parse(time.DateOnly, v[i+1:]); err != nil {
			return fmt.Errorf("retirement time %q is neither RFC 3339 nor YYYY-MM-DD", v[i+1:])
		}
	}
	k, err := attest.LoadPublicKey(v[:i])
	if err != nil {
		return err
	}
	k.RetiredAt = at
	*r = append(*r, k)
	return nil
}

func runAttest(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "verify" {
		attestUsage(stderr)
		return exitUsage
	}
	fs := flag.NewFlagSet("attest verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { attestUsage(stderr); fs.PrintDefaults() }
	var publicKeys, auditKeys keyFiles
	var retired retiredKeys
	var exp attest.Expectations
	fs.Var(&publicKeys, "public-key", "attestation public key `FILE`; repeat it for keys rotated out")
	fs.Var(&auditKeys, "audit-key", "audit public key `FILE` (checkpoints); repeat it for keys rotated out")
	fs.Var(&retired, "retired-key", "attestation public key rotated out at a time, `FILE@TIME`: it verifies only attestations checkpointed before then")
	fs.StringVar(&exp.Repository, "repository", "", "expect this `OWNER/NAME`")
	fs.StringVar(&exp.Environment, "environment", "", "expect this environment")
	fs.StringVar(&exp.Commit, "commit", "", "expect this full commit `SHA`")
	fs.IntVar(&exp.MinApprovals, "min-approvals", 0, "expect at least `N` valid approvals (of the commit, under the policy, not by the requester)")
	fs.BoolVar(&exp.NotEmergency, "not-emergency", false, "refuse an emergency change")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return exitUsage
	}
	if len(pos) != 1 || exp.MinApprovals < 0 {
		attestUsage(stderr)
		return exitUsage
	}
	if len(publicKeys)+len(retired) == 0 || len(auditKeys) == 0 {
		fmt.Fprintln(stderr, "tollgate attest verify: --public-key FILE and --audit-key FILE are required")
		return exitUsage
	}
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
	printAttestation(stdout, file, v)
	return exitOK
}

// printAttestation summarises a verified attestation for a person.
func printAttestation(w io.Writer, file string, v attest.Verified) {
	p := v.Statement.Predicate
	fmt.Fprintf(w, "OK: %s (%s)\n", file, v.EnvelopeDigest)
	fmt.Fprintf(w, "  deploy:     release %s of %s@%.7s to %s, %s at %s\n", p.Release, p.Repository, p.Commit,
		p.Environment, p.Result, p.FinishedAt.Format(time.RFC3339))
	servers := make([]string, len(p.Servers))
	for i, s := range p.Servers {
		servers[i] = fmt.Sprintf("%s:%d (%s)", s.Host, s.Port, s.HostKeySHA256)
	}
	fmt.Fprintf(w, "  servers:    %s\n", strings.Join(servers, ", "))
	fmt.Fprintf(w, "  manifest:   %s\n", v.Statement.ManifestDigest)
	fmt.Fprintf(w, "  requested:  by %s (github id %d) via %s, request %s\n", p.Requester.Login, p.Requester.GitHubID, p.Trigger, p.RequestID)
	valid := p.ValidApprovals()
	names := make([]string, len(valid))
	for i, a := range valid {
		names[i] = fmt.Sprintf("%s (%d)", a.Approver.Login, a.Approver.GitHubID)
	}
	fmt.Fprintf(w, "  approvals:  %d valid of %d required: %s\n", len(valid), p.RequiredApprovals, strings.Join(names, ", "))
	emergency := "no"
	if p.Emergency.Declared {
		emergency = fmt.Sprintf("yes (reason %q, review %s)", p.Reason, p.Emergency.ReviewState)
	}
	fmt.Fprintf(w, "  emergency:  %s\n", emergency)
	fmt.Fprintf(w, "  audit:      %d entries proven in the log of %d entries signed by %s at %s\n",
		len(p.Audit.Entries), v.Checkpoint.Size, v.Checkpoint.Key, v.Checkpoint.Time.Format(time.RFC3339))
	fmt.Fprintf(w, "  signed by:  %s\n", v.KeyID)
	fmt.Fprintf(w, "  checks:     %s\n", strings.Join(v.Checks, ", "))
}
