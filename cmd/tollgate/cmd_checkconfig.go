package main

import (
	"context"
	"errors"
	"flag"
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
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tollgate check-config [FILE]   (default tollgate.yml)")
		fmt.Fprintln(stderr, "Validates FILE, prints warnings and a summary; exit 0 valid, 2 invalid.")
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 1 {
		fs.Usage()
		return exitUsage
	}
	path := "tollgate.yml"
	if fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	cfg, warnings, err := config.Load(path)
	for _, w := range warnings {
		fmt.Fprintln(stderr, w)
	}
	if err != nil {
		var verr *config.ValidationError
		if errors.As(err, &verr) {
			for _, p := range verr.Problems {
				fmt.Fprintln(stderr, p)
			}
			fmt.Fprintf(stderr, "%s: invalid (%d problems)\n", path, len(verr.Problems))
		} else {
			fmt.Fprintf(stderr, "tollgate check-config: %v\n", err)
		}
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
