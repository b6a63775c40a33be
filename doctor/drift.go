package doctor

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/store"
)

// sshEnvironments lists the environments Tollgate deploys to over SSH:
// the ones a drift check covers.
func (d *doctor) sshEnvironments() []*config.Environment {
	var out []*config.Environment
	for _, env := range d.cfg.Environments() {
		if env.Type == config.TargetSSH {
			out = append(out, env)
		}
	}
	return out
}

// checkDrift reads each ssh environment's last drift check (the
// scheduled job's, drift.interval): ✗ when it found a server that differs
// from the release Tollgate put live there.
func (d *doctor) checkDrift(ctx context.Context, s *store.Store) {
	envs := d.sshEnvironments()
	if len(envs) == 0 {
		return
	}
	checks, err := s.LatestDriftChecks(ctx)
	if err != nil {
		for _, env := range envs {
			d.fail(areaChange, "drift of "+env.String(), err.Error(), "check the database")
		}
		return
	}
	last := map[string]bot.DriftCheck{}
	for _, c := range checks {
		last[c.Repo+"/"+c.Environment] = c
	}
	fix := func(env *config.Environment) string {
		return fmt.Sprintf("treat it as an incident: run `tollgate drift --environment %s --config %s` for every path, find who changed the server and how, then deploy again (the deploy sends every drifted file anew)", env.String(), d.cfg.File)
	}
	for _, env := range envs {
		what := "drift of " + env.String()
		c, ok := last[env.String()]
		switch {
		case !ok && d.cfg.Drift.Interval == 0:
			d.warn(areaChange, what, "never checked: drift.interval is 0", "set drift.interval (e.g. 1h) or run `tollgate drift` on a schedule")
		case !ok:
			d.note(areaChange, what, "not checked yet (the server checks within a minute of starting, then every "+d.cfg.Drift.Interval.String()+")")
		case c.Drifted():
			d.fail(areaChange, what, fmt.Sprintf("the check at %s found %s", c.CheckedAt.Format(time.RFC3339), driftSummary(c)), fix(env))
		case !c.Complete():
			d.warn(areaChange, what, fmt.Sprintf("the check at %s could not reach every server: %s", c.CheckedAt.Format(time.RFC3339), unreachable(c)),
				"check the servers' SSH access (doctor's server checks below)")
		default:
			d.pass(areaChange, what, fmt.Sprintf("every server runs release %s as deployed (checked %s)", orNone(c.Expected.Release), c.CheckedAt.Format(time.RFC3339)))
		}
	}
}

// skipDrift lists the drift checks as skipped.
func (d *doctor) skipDrift(because string) {
	for _, env := range d.sshEnvironments() {
		d.skip(areaChange, "drift of "+env.String(), because)
	}
}

// driftSummary says which servers drifted and how, briefly.
func driftSummary(c bot.DriftCheck) string {
	var parts []string
	for _, s := range c.Servers {
		if !s.Drifted() {
			continue
		}
		var what []string
		kinds := make([]string, 0, len(s.Paths))
		for k := range s.Paths {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			what = append(what, fmt.Sprintf("%d %s", len(s.Paths[k]), strings.ReplaceAll(k, "_", " ")))
		}
		what = append(what, s.Findings...)
		parts = append(parts, s.Server+": "+strings.Join(what, ", "))
	}
	return "drift on " + strings.Join(parts, "; ")
}

func unreachable(c bot.DriftCheck) string {
	var parts []string
	for _, s := range c.Servers {
		if s.Error != "" {
			parts = append(parts, s.Server)
		}
	}
	return strings.Join(parts, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none recorded)"
	}
	return s
}
