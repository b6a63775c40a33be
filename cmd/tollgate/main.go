// Command tollgate deploys code over SSH from GitHub and Slack and keeps a
// tamper-evident audit log of every change. See README.md.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/tollgate-dev/tollgate/internal/cli"
)

// Exit codes are part of the external contract (DESIGN.md).
const (
	exitOK          = cli.ExitOK
	exitCheckFailed = cli.ExitCheckFailed // the thing checked is bad: tampering found, doctor found ✗, ...
	exitUsage       = cli.ExitUsage       // bad usage, or an environment the command cannot work in
)

// runFunc runs a command with the arguments after its name.
type runFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// command is one subcommand.
type command struct {
	summary string
	run     runFunc
	subs    []string // the subcommands of a group (audit tail, ...), in help order
}

// commands is filled by init functions in the cmd_*.go files, one per command,
// so adding a command touches only its own file.
var commands = map[string]command{}

func register(name, summary string, run runFunc) {
	if _, dup := commands[name]; dup {
		panic("tollgate: command registered twice: " + name)
	}
	commands[name] = command{summary: summary, run: run}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// dispatch runs the command line args (without the program name).
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "tollgate: missing command")
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	case "-version", "--version":
		return runVersion(ctx, args[1:], stdout, stderr)
	case "help":
		return runHelp(ctx, args[1:], stdout, stderr)
	}
	if strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "tollgate: unknown flag %s (flags follow the command: tollgate COMMAND [flags])\n", args[0])
		usage(stderr)
		return exitUsage
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tollgate: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return cmd.run(ctx, args[1:], stdout, stderr)
}

// runHelp is `tollgate help [COMMAND [SUBCOMMAND]]`: the list of commands,
// or the help of one, which is what `COMMAND --help` prints.
func runHelp(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return exitOK
	}
	if _, ok := commands[args[0]]; !ok {
		fmt.Fprintf(stderr, "tollgate help: unknown command %q\n", args[0])
		usage(stderr)
		return exitUsage
	}
	return dispatch(ctx, append(append([]string{}, args...), "--help"), stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: tollgate COMMAND [flags]")
	fmt.Fprintln(w, "       tollgate help COMMAND")
	fmt.Fprintln(w, "       tollgate --version")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'tollgate help COMMAND' (or 'tollgate COMMAND --help') for the flags of one command.")
	fmt.Fprintln(w, "Exit status: 0 ok, 1 the thing checked is bad (verify found tampering, doctor found ✗, ...),")
	fmt.Fprintln(w, "2 bad usage or an environment the command cannot work in.")
}

// newFlags is the flag set of `tollgate NAME`: usage holds its synopsis
// lines (without "usage: "), about the text its --help prints below them.
func newFlags(name string, stdout, stderr io.Writer, usage []string, about ...string) *cli.Flags {
	return cli.New("tollgate "+name, stdout, stderr, usage, about...)
}

// plural is "1 entry", "2 entries".
func plural[N ~int | ~int64](n N, one, many string) string { return cli.Plural(n, one, many) }
