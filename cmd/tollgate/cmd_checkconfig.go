package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/bot/config"
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
	return exitOK
}
