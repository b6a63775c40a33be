package server

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy"
	"github.com/tollgate-dev/tollgate/deploy/drift"
)

// driftChecker checks an environment's servers against what Tollgate put
// live there (bot.FindLiveRelease over the recorded requests) with the
// deploy engine, for the scheduled job and `tollgate drift`.
type driftChecker struct {
	engine   *deploy.Engine
	requests bot.RequestLister
	// verify checks an attestation found on a server; nil reports it
	// present only (the attestation key is configured with issue 13's
	// signing work).
	verify func(ctx context.Context, server, release, manifestDigest string, envelope []byte) error
}

// check runs one drift check of repo's env.
func (d driftChecker) check(ctx context.Context, repo, env string, t deploy.Target) (bot.DriftCheck, deploy.DriftReport, error) {
	live, _, err := bot.FindLiveRelease(ctx, d.requests, repo, env)
	if err != nil {
		return bot.DriftCheck{}, deploy.DriftReport{}, err
	}
	rep, err := d.engine.Drift(ctx, t, deploy.DriftExpect{Release: live.Release, ManifestDigest: live.ManifestDigest},
		deploy.DriftOptions{VerifyAttestation: d.verify})
	if len(rep.Servers) == 0 && err != nil {
		return bot.DriftCheck{}, rep, err // nothing ran: an invalid target
	}
	return driftCheckOf(repo, env, live, rep), rep, nil
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
