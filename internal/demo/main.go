// Package demo plays Tollgate's demo: the real server on localhost with
// SQLite, a fake GitHub and Slack (integrations/githubtest, slacktest) and
// in-process SSH servers (deploy/sshtest), driven through signed webhooks,
// slash commands and button clicks. It links the fakes, so only
// cmd/tollgate-demo imports it, never the tollgate binary.
package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
)

// Exit codes, as tollgate's (DESIGN.md).
const (
	exitOK          = 0
	exitCheckFailed = 1
	exitUsage       = 2
)

// Main runs the demo with the command-line arguments args (after the
// program name) and returns the exit code: 0 after the story, 1 when it
// failed, 2 for bad usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts demoOptions
	fs.BoolVar(&opts.Exit, "exit", false, "exit after the story instead of serving until Ctrl-C")
	fs.StringVar(&opts.DataDir, "data", "", "keep config, keys and database in `DIR` (new or empty) instead of a temporary directory")
	fs.StringVar(&opts.Listen, "listen", "127.0.0.1:0", "`ADDR` the demo's Tollgate listens on")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tollgate-demo [--exit] [--data DIR] [--listen ADDR]")
		fmt.Fprintln(stderr, "Runs the real server on localhost with SQLite, a fake GitHub and Slack, and in-process")
		fmt.Fprintln(stderr, "SSH servers, plays a story through signed webhooks, slash commands and button clicks,")
		fmt.Fprintln(stderr, "and prints what people would see. Needs git; no network, no accounts.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return exitUsage
	}
	err := runDemoStory(ctx, opts, stdout)
	switch {
	case errors.Is(err, errDemoUsage):
		fmt.Fprintf(stderr, "tollgate demo: %v\n", err)
		return exitUsage
	case err != nil:
		fmt.Fprintf(stderr, "tollgate demo: %v\n", err)
		return exitCheckFailed
	}
	return exitOK
}
