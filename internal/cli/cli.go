// Package cli is the command-line surface shared by tollgate and
// tollgate-demo: flag sets whose help goes to stdout (exit 0) when asked
// for, whose usage errors name what was wrong and then show the usage on
// stderr (exit 2), and which spell every flag --flag.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit codes are part of the external contract (DESIGN.md).
const (
	ExitOK          = 0 // done; the thing checked is good
	ExitCheckFailed = 1 // the thing checked is bad: tampering found, doctor found ✗, ...
	ExitUsage       = 2 // bad usage, or an environment the command cannot work in
)

// Flags is one command's flag set with its help text.
type Flags struct {
	*flag.FlagSet
	// Command is how the command is typed, e.g. "tollgate audit prove".
	Command string
	// Usage lists the command's synopsis lines, e.g. "tollgate audit prove SEQ [--config FILE]".
	Usage []string
	// About is the text printed under the usage by --help.
	About []string
	// Pos holds the positional arguments after a successful Parse.
	Pos []string

	stdout, stderr io.Writer
	hidden         map[string]bool
}

// New returns the flag set of command (as typed: "tollgate keygen"). usage
// holds the synopsis lines; about the text --help prints below them.
func New(command string, stdout, stderr io.Writer, usage []string, about ...string) *Flags {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Parse's own messages are replaced by ours
	fs.Usage = func() {}
	return &Flags{FlagSet: fs, Command: command, Usage: usage, About: about, stdout: stdout, stderr: stderr}
}

// Parse parses args, whose flags may come before, between or after the
// positional arguments, and checks the positionals against want: each a
// name ("SEQ"), or an optional one in brackets ("[FILE]"). It returns
// done=true when the command must stop now and exit with code: after
// printing the help to stdout (--help, -h: exit 0) or a usage error and the
// usage to stderr (exit 2). Otherwise f.Pos holds the positionals.
func (f *Flags) Parse(args []string, want ...string) (code int, done bool) {
	pos, err := f.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		f.PrintHelp(f.stdout)
		return ExitOK, true
	}
	if err != nil {
		return f.Fail("%s", flagError(err)), true
	}
	required, optional := 0, 0
	for _, w := range want {
		if strings.HasPrefix(w, "[") {
			optional++
		} else {
			required++
		}
	}
	switch {
	case len(pos) < required:
		return f.Fail("missing %s", strings.Join(want[len(pos):required], " ")), true
	case len(pos) > required+optional:
		return f.Fail("unexpected argument %q", pos[required+optional]), true
	}
	f.Pos = pos
	return ExitOK, false
}

// parse parses flags anywhere among args and returns the positionals. An
// argument "--" ends the flags: everything after it is positional.
func (f *Flags) parse(args []string) ([]string, error) {
	var pos []string
	for {
		if err := f.FlagSet.Parse(args); err != nil {
			return nil, err
		}
		rest := f.FlagSet.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// flagError rewrites the flag package's error in this command line's
// spelling: "flag provided but not defined: -x" becomes "unknown flag --x".
func flagError(err error) string {
	msg := err.Error()
	for _, r := range []struct{ prefix, replace string }{
		{"flag provided but not defined: -", "unknown flag --"},
		{"flag needs an argument: -", "flag needs a value: --"},
	} {
		if strings.HasPrefix(msg, r.prefix) {
			return r.replace + strings.TrimPrefix(msg, r.prefix)
		}
	}
	// invalid value "x" for flag -n: ... / invalid boolean value "x" for -b: ...
	if strings.Contains(msg, " for flag -") {
		return strings.Replace(msg, " for flag -", " for --", 1)
	}
	return strings.Replace(msg, " for -", " for --", 1)
}

// Alias makes --alias another spelling of the defined flag --name, kept
// for old command lines and left out of the help.
func (f *Flags) Alias(alias, name string) {
	fl := f.Lookup(name)
	if fl == nil {
		panic("cli: alias of an undefined flag --" + name)
	}
	f.Var(fl.Value, alias, fl.Usage)
	if f.hidden == nil {
		f.hidden = map[string]bool{}
	}
	f.hidden[alias] = true
}

// Fail reports a usage error: "COMMAND: message", then the usage and the
// flags, on stderr. It returns ExitUsage.
func (f *Flags) Fail(format string, args ...any) int {
	fmt.Fprintf(f.stderr, "%s: %s\n", f.Command, fmt.Sprintf(format, args...))
	f.printUsage(f.stderr)
	f.printFlags(f.stderr)
	fmt.Fprintf(f.stderr, "Run '%s --help' for more.\n", f.Command)
	return ExitUsage
}

// PrintHelp writes the usage, the text about the command and its flags.
func (f *Flags) PrintHelp(w io.Writer) {
	f.printUsage(w)
	if len(f.About) > 0 {
		fmt.Fprintln(w)
		for _, l := range f.About {
			fmt.Fprintln(w, l)
		}
	}
	f.printFlags(w)
}

func (f *Flags) printUsage(w io.Writer) {
	PrintUsage(w, f.Usage)
}

// PrintUsage writes synopsis lines: "usage: " before the first, aligned
// indentation before the others.
func PrintUsage(w io.Writer, lines []string) {
	for i, l := range lines {
		if i == 0 {
			fmt.Fprintf(w, "usage: %s\n", l)
		} else {
			fmt.Fprintf(w, "       %s\n", l)
		}
	}
}

// printFlags lists the flags as --name VALUE, each with its description
// and default on the next line.
func (f *Flags) printFlags(w io.Writer) {
	first := true
	f.VisitAll(func(fl *flag.Flag) {
		if f.hidden[fl.Name] {
			return
		}
		if first {
			fmt.Fprintln(w, "\nflags:")
			first = false
		}
		name, usage := flag.UnquoteUsage(fl)
		if generic, ok := typeNames[name]; ok {
			name = generic
		}
		if name != "" {
			name = " " + name
		}
		fmt.Fprintf(w, "  --%s%s\n", fl.Name, name)
		if def := defaultText(fl); def != "" {
			usage += " (default " + def + ")"
		}
		fmt.Fprintf(w, "        %s\n", strings.ReplaceAll(usage, "\n", "\n        "))
	})
	if !first {
		fmt.Fprintln(w)
	}
}

// typeNames replaces the type the flag package names a value by, when
// the usage names none in `backquotes`, with a placeholder in capitals.
var typeNames = map[string]string{"string": "VALUE", "value": "VALUE", "int": "N", "uint": "N", "float": "NUMBER", "duration": "DURATION"}

// defaultText is a flag's default as the help shows it, "" for none.
func defaultText(fl *flag.Flag) string {
	switch fl.DefValue {
	case "", "0", "false", "0s", "[]":
		return ""
	}
	if g, ok := fl.Value.(flag.Getter); ok {
		if _, isString := g.Get().(string); isString {
			return fmt.Sprintf("%q", fl.DefValue)
		}
	}
	return fl.DefValue
}

// Plural is "1 entry", "2 entries", "0 entries".
func Plural[N ~int | ~int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
