package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// subcommand is one command of a group, such as `audit tail`.
type subcommand struct {
	name, summary string
	run           runFunc
}

// group is a command made of subcommands: `tollgate audit tail`, ...
type group struct {
	name  string
	about []string
	subs  []subcommand
}

// registerGroup registers g as the command g.name.
func registerGroup(g group, summary string) {
	register(g.name, summary, g.run)
	c := commands[g.name]
	for _, s := range g.subs {
		c.subs = append(c.subs, s.name)
	}
	commands[g.name] = c
}

// run runs the subcommand args[0] with the rest of args; --help (or help)
// prints the group's help.
func (g group) run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintf(stderr, "tollgate %s: missing subcommand\n", g.name)
		g.usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		g.usage(stdout)
		return exitOK
	}
	for _, s := range g.subs {
		if s.name == args[0] {
			return s.run(ctx, args[1:], stdout, stderr)
		}
	}
	if strings.HasPrefix(args[0], "-") {
		fmt.Fprintf(stderr, "tollgate %s: unknown flag %s (flags follow the subcommand: tollgate %s SUBCOMMAND [flags])\n", g.name, args[0], g.name)
	} else {
		fmt.Fprintf(stderr, "tollgate %s: unknown subcommand %q\n", g.name, args[0])
	}
	g.usage(stderr)
	return exitUsage
}

func (g group) usage(w io.Writer) {
	fmt.Fprintf(w, "usage: tollgate %s SUBCOMMAND [flags]\n", g.name)
	if len(g.about) > 0 {
		fmt.Fprintln(w)
		for _, l := range g.about {
			fmt.Fprintln(w, l)
		}
	}
	fmt.Fprintln(w, "\nsubcommands:")
	for _, s := range g.subs {
		fmt.Fprintf(w, "  %-14s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(w, "\nRun 'tollgate help %s SUBCOMMAND' for the flags of one.\n", g.name)
}
