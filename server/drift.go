package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strconv"
	"strings"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy"
	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/deploy/drift"
	"github.com/tollgate-dev/tollgate/store"
)

// driftChecker checks an environment's servers against what Tollgate put
// live there (bot.FindLiveRelease over the recorded requests) with the
// deploy engine, for the scheduled job and `tollgate drift`.
type driftChecker struct {
	engine   *deploy.Engine
	requests bot.RequestLister
	// keys verify the attestations found on servers (config's
	// AttestationKeys, read at each check so a reload applies); without
	// an attestation key one found is reported present, not verified.
	keys func() (attest.Keys, error)
	// attestations says whether a request's attestation was written on
	// every server (store.Store); nil when unknown.
	attestations attestationReader
}

// attestationReader finds a request's attestation (store.Store).
type attestationReader interface {
	Attestation(ctx context.Context, requestID string) (store.Attestation, error)
}

// check runs one drift check of repo's env.
func (d driftChecker) check(ctx context.Context, repo, env string, t deploy.Target) (bot.DriftCheck, deploy.DriftReport, error) {
	live, _, err := bot.FindLiveRelease(ctx, d.requests, repo, env)
	if err != nil {
		return bot.DriftCheck{}, deploy.DriftReport{}, err
	}
	opts, err := d.options(repo, env)
	if err != nil {
		return bot.DriftCheck{}, deploy.DriftReport{}, err
	}
	want := deploy.DriftExpect{Release: live.Release, ManifestDigest: live.ManifestDigest}
	if d.attestations != nil && live.RequestID != "" {
		a, err := d.attestations.Attestation(ctx, live.RequestID)
		if err != nil && !errors.Is(err, store.ErrNoAttestation) {
			return bot.DriftCheck{}, deploy.DriftReport{}, err
		}
		want.Attested = err == nil && !a.WrittenAt.IsZero() && a.Release == live.Release
	}
	rep, err := d.engine.Drift(ctx, t, want, opts)
	if len(rep.Servers) == 0 && err != nil {
		return bot.DriftCheck{}, rep, err // nothing ran: an invalid target
	}
	return driftCheckOf(repo, env, live, rep), rep, nil
}

// options verifies each attestation found with the keys in force, when
// there is an attestation key.
func (d driftChecker) options(repo, env string) (deploy.DriftOptions, error) {
	if d.keys == nil {
		return deploy.DriftOptions{}, nil
	}
	keys, err := d.keys()
	if err != nil {
		return deploy.DriftOptions{}, fmt.Errorf("drift check of %s/%s: %w", repo, env, err)
	}
	if len(keys.Attestation) == 0 {
		return deploy.DriftOptions{}, nil
	}
	return deploy.DriftOptions{VerifyAttestation: func(ctx context.Context, server, release, digest string, envelope []byte) error {
		return verifyLiveAttestation(ctx, keys, repo, env, server, release, digest, envelope)
	}}, nil
}

// verifyLiveAttestation checks the attestation found next to the live
// release on server: signed by a trusted key with its audit proofs, and
// about this environment, this release, the manifest Tollgate recorded
// for it, and this server. An attestation copied from another release,
// environment or server is refused.
func verifyLiveAttestation(ctx context.Context, keys attest.Keys, repo, env, server, release, digest string, envelope []byte) error {
	v, err := attest.Verify(ctx, envelope, keys, attest.Expectations{Repository: repo, Environment: env})
	if err != nil {
		return err
	}
	p := v.Statement.Predicate
	switch {
	case p.Release != release:
		return fmt.Errorf("it attests release %s, not the live %s", p.Release, release)
	case digest != "" && v.Statement.ManifestDigest != digest:
		return fmt.Errorf("it attests manifest %s, Tollgate recorded %s", v.Statement.ManifestDigest, digest)
	}
	for _, s := range p.Servers {
		if net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) == server {
			return nil
		}
	}
	return fmt.Errorf("it does not name server %s", server)
}

// driftCheckOf is the domain's record of an engine's drift report.
func driftCheckOf(repo, env string, live bot.LiveRelease, rep deploy.DriftReport) bot.DriftCheck {
	c := bot.DriftCheck{Repo: repo, Environment: env, CheckedAt: rep.Finished.UTC(), Expected: live}
	for _, s := range rep.Servers {
		ds := bot.DriftServer{Server: s.Server, Live: s.Live, Attestation: string(s.Attestation), Error: s.Error}
		for _, ch := range s.Changes {
			if ds.Paths == nil {
				ds.Paths = map[string][]string{}
			}
			ds.Paths[string(ch.Kind)] = append(ds.Paths[string(ch.Kind)], drift.Printable(ch.Path))
		}
		for _, f := range s.Findings {
			ds.Findings = append(ds.Findings, f.Kind+": "+f.Detail)
		}
		c.Servers = append(c.Servers, ds)
	}
	return c
}

// writeDriftReport prints a check for people: per server its live
// release and attestation, then one line per drifted path ("changed
// lib/auth.php: sha256 … -> …") and per finding.
func writeDriftReport(w io.Writer, name string, live bot.LiveRelease, rep deploy.DriftReport) {
	expected := "nothing yet"
	if live.Release != "" {
		expected = fmt.Sprintf("release %s (request %s, manifest %s)", live.Release, live.RequestID, orDash(live.ManifestDigest))
	}
	fmt.Fprintf(w, "%s: Tollgate put live %s\n", name, expected)
	servers := append([]deploy.ServerDrift(nil), rep.Servers...)
	sort.SliceStable(servers, func(i, j int) bool { return servers[i].Server < servers[j].Server })
	for _, s := range servers {
		switch {
		case s.Error != "":
			fmt.Fprintf(w, "  %s: NOT CHECKED: %s\n", s.Server, s.Error)
			continue
		case !s.Drifted() && s.Live == "":
			fmt.Fprintf(w, "  %s: clean (nothing live)\n", s.Server)
			continue
		case !s.Drifted():
			fmt.Fprintf(w, "  %s: clean (release %s, attestation %s)\n", s.Server, s.Live, orDash(string(s.Attestation)))
			continue
		}
		var counts []string
		if n := len(s.Changes); n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, plural(n, "path", "paths")))
		}
		if n := len(s.Findings); n > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", n, plural(n, "finding", "findings")))
		}
		fmt.Fprintf(w, "  %s: DRIFT (release %s, attestation %s): %s\n", s.Server, orDash(s.Live),
			orDash(string(s.Attestation)), strings.Join(counts, ", "))
		for _, f := range s.Findings {
			fmt.Fprintf(w, "    %s: %s\n", f.Kind, f.Detail)
		}
		for _, c := range s.Changes {
			fmt.Fprintf(w, "    %s\n", c.String())
		}
	}
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
