// Package doctor checks an installation against the SOC 2 checklist
// Tollgate is built for: each check goes through the adapters a running
// server uses (integrations/github, integrations/slack, deploy, store) and
// is a finding with what to fix. cmd/tollgate's doctor command parses its
// flags, runs it and prints the report.
package doctor

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/tollgate-dev/tollgate/config"
)

// SOC 2 checklist areas, in the order doctor prints them.
const (
	areaAuthentication = "authentication"
	areaPermissions    = "permissions"
	areaAudit          = "audit"
	areaChange         = "change management"
	areaIsolation      = "environment isolation"
)

var doctorAreas = []string{areaAuthentication, areaPermissions, areaAudit, areaChange, areaIsolation}

// finding is one checklist item: what was checked, whether it holds, and
// what to do when it does not.
type finding struct {
	area   string
	ok     bool
	warn   bool // not ok, but not a failed check: a control worth adding
	what   string
	detail string // why it failed, or what was found
	fix    string // what to do; set whenever !ok
}

// doctor collects findings; every check adds at least one.
type doctor struct {
	cfg      *config.Config
	now      func() time.Time
	timeout  time.Duration // per network check
	envFile  string        // the secrets env file; "" skips its check
	findings []finding
}

func (d *doctor) pass(area, what, detail string) {
	d.findings = append(d.findings, finding{area: area, ok: true, what: what, detail: detail})
}

// warn records a control that is missing without failing the run.
func (d *doctor) warn(area, what, detail, fix string) {
	d.findings = append(d.findings, finding{area: area, warn: true, what: what, detail: detail, fix: fix})
}

func (d *doctor) fail(area, what, detail, fix string) {
	d.findings = append(d.findings, finding{area: area, what: what, detail: detail, fix: fix})
}

// Options tune a run; zero values take defaults.
type Options struct {
	Now     func() time.Time // nil: time.Now
	Timeout time.Duration    // per network check; 0: 10 s
	EnvFile string           // the secrets env file (KEY=value) whose mode to check; "" for none
}

// Report is the checklist: every finding, area by area.
type Report struct{ findings []finding }

// Run makes every check of cfg and returns the report.
func Run(ctx context.Context, cfg *config.Config, opts Options) *Report {
	d := &doctor{cfg: cfg, now: opts.Now, timeout: opts.Timeout, envFile: opts.EnvFile}
	if d.now == nil {
		d.now = time.Now
	}
	if d.timeout <= 0 {
		d.timeout = 10 * time.Second
	}
	d.run(ctx)
	return &Report{findings: d.findings}
}

// run makes every check.
func (d *doctor) run(ctx context.Context) {
	d.checkPolicies()
	d.checkSecurityKeys()
	d.checkWebLogin()
	d.checkKeyFiles()
	d.checkStateFiles()
	d.checkLocalState(ctx)
	d.checkGitHub(ctx)
	d.checkSlack(ctx)
	d.checkServers(ctx)
}

// Write prints the checklist, area by area, and returns how many checks failed.
func (r *Report) Write(w io.Writer, cfgPath string) int {
	d := r
	fmt.Fprintf(w, "Tollgate doctor: %s\n", cfgPath)
	failed, warned := 0, 0
	for _, area := range doctorAreas {
		fmt.Fprintf(w, "\n%s\n", area)
		for _, f := range d.findings {
			if f.area != area {
				continue
			}
			mark := "✓"
			switch {
			case f.warn:
				mark = "!"
				warned++
			case !f.ok:
				mark = "✗"
				failed++
			}
			line := "  " + mark + " " + f.what
			if f.detail != "" {
				line += ": " + f.detail
			}
			fmt.Fprintln(w, line)
			if !f.ok {
				fmt.Fprintf(w, "      fix: %s\n", f.fix)
			}
		}
	}
	fmt.Fprintln(w)
	if failed > 0 {
		fmt.Fprintf(w, "%d of %d checks failed\n", failed, len(d.findings)-warned)
		return failed
	}
	if warned > 0 {
		fmt.Fprintf(w, "all %d checks passed, with %d warning(s) (!)\n", len(d.findings)-warned, warned)
		return 0
	}
	fmt.Fprintf(w, "all %d checks passed\n", len(d.findings))
	return 0
}
