package main

import (
	"errors"
	"flag"
	"fmt"
	iofs "io/fs"
	"os"

	"github.com/tollgate-dev/tollgate/store/evidence"
)

// dateRange is the --from/--to pair of the commands that work on a slice
// of the audit log.
type dateRange struct{ from, to string }

func (r *dateRange) register(fs *flag.FlagSet) {
	fs.StringVar(&r.from, "from", "", "first day, `DATE` YYYY-MM-DD (UTC) or an RFC 3339 time")
	fs.StringVar(&r.to, "to", "", "last day, `DATE` YYYY-MM-DD (UTC, included) or an RFC 3339 time (excluded)")
}

// parse checks the pair; both are required.
func (r dateRange) parse() (evidence.Range, error) { return evidence.ParseRange(r.from, r.to) }

// checkOutDir refuses, before any work, an output directory that exists and
// is not empty (or is not a directory): a pack or an export is never mixed
// with files of an earlier run, and that is the caller's environment to fix
// (exit 2), not a finding.
func checkOutDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, iofs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("output directory: %w", err)
	case len(ents) > 0:
		return fmt.Errorf("output directory %s is not empty; give a new one", dir)
	}
	return nil
}
