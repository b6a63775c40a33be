package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/store/evidence"
)

// newFlags is a command's flag set: errors and the usage go to stderr, and
// -h prints usage (its lines, then the flags).
func newFlags(name string, stderr io.Writer, usage ...string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		for _, l := range usage {
			fmt.Fprintln(stderr, l)
		}
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses a command's arguments, which are all flags, and reports
// whether the command may go on. On false the command exits with exitUsage:
// a bad flag has been reported by the flag package, a stray argument by
// printing the usage.
func parseFlags(fs *flag.FlagSet, args []string) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return false
	}
	return true
}

// dateRange is the --from/--to pair of the commands that work on a slice
// of the audit log.
type dateRange struct{ from, to string }

func (r *dateRange) register(fs *flag.FlagSet) {
	fs.StringVar(&r.from, "from", "", "first day `YYYY-MM-DD` (UTC) or RFC 3339 time")
	fs.StringVar(&r.to, "to", "", "last day `YYYY-MM-DD` (UTC, included) or RFC 3339 time (excluded)")
}

// parse checks the pair; both are required.
func (r dateRange) parse() (evidence.Range, error) { return evidence.ParseRange(r.from, r.to) }
