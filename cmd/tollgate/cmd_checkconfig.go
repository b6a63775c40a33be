package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/integrations/web"
)

func init() {
	register("check-config", "validate a config file and summarise who may deploy what", runCheckConfig)
}

func runCheckConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check-config", stdout, stderr,
		[]string{"tollgate check-config [--config FILE]", "tollgate check-config FILE"},
		"Validates the configuration (default tollgate.yml), prints its problems in line order,",
		"errors and warnings together, then a summary of who may deploy what where.",
		"Exit 0 valid (warnings allowed), 2 invalid or unreadable.",
	)
	cfgFlag := fs.String("config", "", "configuration `FILE` (default tollgate.yml)")
	if code, done := fs.Parse(args, "[FILE]"); done {
		return code
	}
	path := "tollgate.yml"
	switch {
	case len(fs.Pos) == 1 && *cfgFlag != "" && fs.Pos[0] != *cfgFlag:
		return fs.Fail("two files given (--config %s and %s): give one", *cfgFlag, fs.Pos[0])
	case len(fs.Pos) == 1:
		path = fs.Pos[0]
	case *cfgFlag != "":
		path = *cfgFlag
	}
	cfg, warnings, err := config.Load(path)
	var verr *config.ValidationError
	if err != nil && !errors.As(err, &verr) {
		for _, l := range config.Report(nil, warnings) {
			fmt.Fprintln(stderr, l)
		}
		fmt.Fprintf(stderr, "tollgate check-config: %v\n", err)
		return exitUsage
	}
	var problems []config.Problem
	if verr != nil {
		problems = verr.Problems
	}
	for _, l := range config.Report(problems, warnings) {
		fmt.Fprintln(stderr, l)
	}
	if verr != nil {
		fmt.Fprintf(stderr, "%s: invalid (%s", path, plural(len(problems), "error", "errors"))
		if len(warnings) > 0 {
			fmt.Fprintf(stderr, ", %s", plural(len(warnings), "warning", "warnings"))
		}
		fmt.Fprintln(stderr, ")")
		return exitUsage
	}
	if err := cfg.WriteSummary(stdout); err != nil {
		fmt.Fprintf(stderr, "tollgate check-config: %v\n", err)
		return exitUsage
	}
	writeWebPagesLine(stdout, cfg)
	return exitOK
}

// writeWebPagesLine says whether serve will show the web pages, which
// exist only behind the GitHub login.
func writeWebPagesLine(w io.Writer, cfg *config.Config) {
	if !cfg.GitHub.WebLoginConfigured() {
		fmt.Fprintln(w, "Web pages: not served (answer 503): github.oauth_client_id and github.oauth_client_secret are not set,")
		fmt.Fprintln(w, "           and the pages are shown only after a GitHub login through the App's OAuth client")
		return
	}
	fmt.Fprintf(w, "Web pages: %s/environments, /audit, /deployments/<id> after a GitHub login, for members of %s\n",
		strings.TrimSuffix(cfg.PublicURL, "/"), cfg.GitHub.Org)
	fmt.Fprintf(w, "           (the App's callback URLs must include %s%s)\n", strings.TrimSuffix(cfg.PublicURL, "/"), web.PathCallback)
}
