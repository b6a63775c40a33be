package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/tollgate-dev/tollgate/config"
)

func init() {
	register("doctor", "check the installation against the SOC 2 checklist; print each failing item with its fix (exit 1 if any fails)", runDoctor)
}

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
	what   string
	detail string // why it failed, or what was found
	fix    string // what to do; set whenever !ok
}

// doctor collects findings; every check adds at least one.
type doctor struct {
	cfg      *config.Config
	now      func() time.Time
	timeout  time.Duration // per network check
	findings []finding
}

func (d *doctor) pass(area, what, detail string) {
	d.findings = append(d.findings, finding{area: area, ok: true, what: what, detail: detail})
}

func (d *doctor) fail(area, what, detail, fix string) {
	d.findings = append(d.findings, finding{area: area, what: what, detail: detail, fix: fix})
}

func runDoctor(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "tollgate.yml", "configuration `FILE`")
	timeout := fs.Duration("timeout", 10*time.Second, "time limit of each network check")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tollgate doctor [--config FILE] [--timeout 10s]")
		fmt.Fprintln(stderr, "Checks the configuration, key files, servers, GitHub App, organisation, branch protection,")
		fmt.Fprintln(stderr, "anchor repository, Slack, clock, inbox, emergency and access reviews, and prints the SOC 2")
		fmt.Fprintln(stderr, "checklist with the fix for each failing item. Exit 0 all pass, 1 something fails, 2 bad usage.")
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args) {
		return exitUsage
	}
	data, err := os.ReadFile(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate doctor: %v\n", err)
		return exitUsage
	}
	// Parse, not Load: the file checks Load makes (permissions, existence)
	// are reported below one by one, each with its fix.
	cfg, _, err := config.Parse(*cfgPath, data, os.LookupEnv)
	if err != nil {
		fmt.Fprintf(stdout, "✗ configuration %s does not load\n%v\n    fix: correct the lines named above; `tollgate check-config` explains each key\n", *cfgPath, err)
		return exitUsage
	}
	d := &doctor{cfg: cfg, now: time.Now, timeout: *timeout}
	d.run(ctx)
	return d.print(stdout, *cfgPath)
}

// run makes every check.
func (d *doctor) run(ctx context.Context) {
	d.checkPolicies()
	d.checkWebLogin()
	d.checkKeyFiles()
	d.checkLocalState(ctx)
	d.checkGitHub(ctx)
	d.checkSlack(ctx)
	d.checkServers(ctx)
}

// print writes the checklist, area by area, and returns the exit code.
func (d *doctor) print(w io.Writer, cfgPath string) int {
	fmt.Fprintf(w, "Tollgate doctor: %s\n", cfgPath)
	failed := 0
	for _, area := range doctorAreas {
		fmt.Fprintf(w, "\n%s\n", area)
		for _, f := range d.findings {
			if f.area != area {
				continue
			}
			mark := "✓"
			if !f.ok {
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
		fmt.Fprintf(w, "%d of %d checks failed\n", failed, len(d.findings))
		return exitCheckFailed
	}
	fmt.Fprintf(w, "all %d checks passed\n", len(d.findings))
	return exitOK
}
