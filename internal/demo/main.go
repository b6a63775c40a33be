// Package demo plays Tollgate's demo: the real server on localhost with
// SQLite, a fake GitHub and Slack (integrations/githubtest, slacktest) and
// in-process SSH servers (deploy/sshtest), driven through signed webhooks,
// slash commands and button clicks. It links the fakes, so only
// cmd/tollgate-demo imports it, never the tollgate binary.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/internal/cli"
)

// Exit codes, as tollgate's (DESIGN.md).
const (
	exitOK          = cli.ExitOK
	exitCheckFailed = cli.ExitCheckFailed
	exitUsage       = cli.ExitUsage
)

// Main runs the demo with the command-line arguments args (after the
// program name) and returns the exit code: 0 after the story, 1 when it
// failed, 2 for bad usage.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.New("tollgate-demo", stdout, stderr,
		[]string{"tollgate-demo [--exit] [--data DIR] [--listen ADDR]", "tollgate demo [--exit] [--data DIR] [--listen ADDR]"},
		"Runs the real server on localhost with SQLite, a fake GitHub and Slack, and in-process",
		"SSH servers, plays a story through signed webhooks, slash commands and button clicks,",
		"and prints what people would see. Needs git; no network, no accounts.",
		"Exit 0 after the story, 1 the story failed, 2 bad usage.",
	)
	var opts demoOptions
	fs.BoolVar(&opts.Exit, "exit", false, "exit after the story instead of serving until Ctrl-C")
	fs.StringVar(&opts.DataDir, "data", "", "keep config, keys and database in `DIR` (new or empty) instead of a temporary directory")
	fs.StringVar(&opts.Listen, "listen", "127.0.0.1:0", "`ADDR` the demo's Tollgate listens on")
	if code, done := fs.Parse(args); done {
		return code
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
