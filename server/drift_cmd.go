package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/deploy"
	"github.com/tollgate-dev/tollgate/internal/cli"
	"github.com/tollgate-dev/tollgate/store"
)

// RunDriftCommand is `tollgate drift`: it checks every server of every
// ssh environment (or of the one named) against the release Tollgate put
// live there, as recorded in the database, and prints what differs. It
// records nothing (the scheduled check records, alerts and counts).
// Exit 0 clean, 1 drift found, 2 bad usage, a configuration or database
// that does not open, or a server that could not be checked.
func RunDriftCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.New("tollgate drift", stdout, stderr,
		[]string{"tollgate drift [--environment ENV] [--config FILE]"},
		"Connects to every server of each ssh environment (host keys checked as for a deploy), reads",
		"which release current points at and its manifest (whose digest must be the one Tollgate",
		"recorded when it deployed it), hashes every file of the live release on the server and",
		"prints, per server, each path changed, added, removed or with another mode, and any other",
		"finding (current not on the release Tollgate put live last, a manifest that is not",
		"Tollgate's). Read-only: it writes nothing on the servers nor in the database.",
		"ENV is an environment name (every repository's) or OWNER/REPO/NAME.",
		"Exit 0 every server clean, 1 drift found, 2 bad usage or a server that could not be checked.",
	)
	cfgPath := fs.String("config", "tollgate.yml", "configuration `FILE`")
	only := fs.String("environment", "", "check only `ENV` (a name, or OWNER/REPO/NAME)")
	if code, done := fs.Parse(args); done {
		return code
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "tollgate drift: %v\n", err)
		return cli.ExitUsage
	}
	cfg, _, err := config.Load(*cfgPath)
	if err != nil {
		return fail(err)
	}
	targets, err := cfg.SSHTargets()
	if err != nil {
		return fail(err)
	}
	var envs []config.SSHEnvironment
	for _, e := range targets.List() {
		if *only == "" || *only == e.Name || *only == e.Repo+"/"+e.Name {
			envs = append(envs, e)
		}
	}
	if len(envs) == 0 {
		if *only != "" {
			return fail(fmt.Errorf("no ssh environment %q in %s", *only, *cfgPath))
		}
		return fail(fmt.Errorf("%s has no ssh environment", *cfgPath))
	}
	st, err := store.OpenReadOnly(ctx, cfg.Database)
	if err != nil {
		return fail(err)
	}
	defer st.Close()
	d := driftChecker{engine: &deploy.Engine{Logger: slog.New(slog.DiscardHandler)}, requests: st, keys: cfg.AttestationKeys, attestations: st}
	drifted, unchecked := false, false
	for _, e := range envs {
		c, rep, err := d.check(ctx, e.Repo, e.Name, e.Target)
		if err != nil {
			fmt.Fprintf(stderr, "tollgate drift: %s/%s: %v\n", e.Repo, e.Name, err)
			unchecked = true
			continue
		}
		writeDriftReport(stdout, e.Repo+"/"+e.Name, c.Expected, rep)
		drifted = drifted || c.Drifted()
		unchecked = unchecked || !c.Complete()
	}
	switch {
	case drifted:
		return cli.ExitCheckFailed
	case unchecked:
		fmt.Fprintln(stderr, "tollgate drift: some servers could not be checked (see above)")
		return cli.ExitUsage
	}
	return cli.ExitOK
}
