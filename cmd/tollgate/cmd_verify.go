package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/internal/auditcheck"
)

func init() {
	register("verify", "recompute the audit log and check its signed checkpoints (exit 1 on tampering)", runVerify)
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var src auditSource
	src.register(fs, true)
	var af anchorFlags
	fs.BoolVar(&af.enabled, "anchors", false, "also prove the log consistent with every checkpoint in audit.anchor_repository (needs --config)")
	fs.StringVar(&af.since, "anchors-since", "", "first `DAY` (YYYY-MM-DD) of anchor files to read when the folder cannot be listed (default: retention_days ago)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tollgate verify --database PATH --public-key FILE [--public-key FILE]...")
		fmt.Fprintln(stderr, "       tollgate verify --config tollgate.yml [--anchors]")
		fmt.Fprintln(stderr, "Recomputes every audit entry and the Merkle tree from the rows and checks every")
		fmt.Fprintln(stderr, "signed checkpoint. The database is opened read-only: verify a copy of it alone.")
		fmt.Fprintln(stderr, "After an audit key rotation, give every public key (or list the old ones in")
		fmt.Fprintln(stderr, "audit.previous_public_key_files): each checkpoint must be signed by one of them.")
		fmt.Fprintln(stderr, "Exit 0 verified, 1 tampering found, 2 bad usage.")
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args) {
		return exitUsage
	}
	dbPath, keys, err := src.resolve(true)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate verify: %v\n", err)
		return exitUsage
	}
	s, r, err := auditcheck.Verify(ctx, dbPath, keys, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate verify: %v\n", err)
		return exitUsage
	}
	defer s.Close()
	if !r.OK {
		return exitCheckFailed
	}
	if af.enabled {
		return verifyAnchors(ctx, src.config, s, keys, af, stdout, stderr)
	}
	return exitOK
}
