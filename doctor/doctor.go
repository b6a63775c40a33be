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
	"github.com/tollgate-dev/tollgate/internal/cli"
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

// outcome is what became of one check.
type outcome int

const (
	passed  outcome = iota // ✓ the control holds
	failed                 // ✗ it does not; fix says what to do
	skipped                // – the check could not run; detail says why
	noted                  // ℹ nothing to fix yet, worth knowing (a fresh install)
	warned                 // ! not a failed check, but a control worth adding; fix says how
)

// finding is one checklist item: what was checked, how it came out, and
// what to do when it failed.
type finding struct {
	area    string
	outcome outcome
	what    string
	detail  string // why it failed, what was found, or why it was skipped
	fix     string // what to do; set whenever it failed
}

// doctor collects findings. Every check adds exactly one, whatever
// happens, so the total is the same from run to run of one configuration:
// a check that cannot run is skipped, with the reason.
type doctor struct {
	cfg      *config.Config
	now      func() time.Time
	timeout  time.Duration // per network check
	envFile  string        // the secrets env file; "" skips its check
	findings []finding
}

func (d *doctor) pass(area, what, detail string) {
	d.findings = append(d.findings, finding{area: area, outcome: passed, what: what, detail: detail})
}

// warn records a control that is missing without failing the run.
func (d *doctor) warn(area, what, detail, fix string) {
	d.findings = append(d.findings, finding{area: area, outcome: warned, what: what, detail: detail, fix: fix})
}

func (d *doctor) fail(area, what, detail, fix string) {
	d.findings = append(d.findings, finding{area: area, outcome: failed, what: what, detail: detail, fix: fix})
}

// skip records a check that could not run, and why ("because ...").
func (d *doctor) skip(area, what, because string) {
	d.findings = append(d.findings, finding{area: area, outcome: skipped, what: what, detail: because})
}

// note records a finding that needs no fix yet.
func (d *doctor) note(area, what, detail string) {
	d.findings = append(d.findings, finding{area: area, outcome: noted, what: what, detail: detail})
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
	d.checkAnchoring()
	d.checkAttestationKey()
	d.checkStateFiles()
	d.checkLocalState(ctx)
	d.checkGitHub(ctx)
	d.checkSlack(ctx)
	d.checkServers(ctx)
}

// marks are how each outcome is shown.
var marks = map[outcome]string{passed: "✓", failed: "✗", skipped: "–", noted: "ℹ", warned: "!"}

// Write prints the checklist, area by area, then the totals
// ("23 checks: 19 ok, 1 failed, 3 skipped"), and returns how many checks
// failed. A noted finding counts as ok: nothing is wrong.
func (r *Report) Write(w io.Writer, cfgPath string) int {
	fmt.Fprintf(w, "Tollgate doctor: %s\n", cfgPath)
	count := map[outcome]int{}
	for _, area := range doctorAreas {
		fmt.Fprintf(w, "\n%s\n", area)
		for _, f := range r.findings {
			if f.area != area {
				continue
			}
			count[f.outcome]++
			line := "  " + marks[f.outcome] + " " + f.what
			switch {
			case f.outcome == skipped:
				line += ": skipped: " + f.detail
			case f.detail != "":
				line += ": " + f.detail
			}
			fmt.Fprintln(w, line)
			if f.outcome == failed || f.outcome == warned {
				fmt.Fprintf(w, "      fix: %s\n", f.fix)
			}
		}
	}
	warnings := ""
	if count[warned] > 0 {
		warnings = fmt.Sprintf(", %s (!)", cli.Plural(count[warned], "warning", "warnings"))
	}
	fmt.Fprintf(w, "\n%s: %d ok, %d failed, %d skipped%s\n", cli.Plural(len(r.findings), "check", "checks"),
		count[passed]+count[noted], count[failed], count[skipped], warnings)
	return count[failed]
}
