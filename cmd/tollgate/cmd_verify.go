package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
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
		fmt.Fprintln(stderr, "usage: tollgate verify --database PATH|postgres://… --public-key FILE [--public-key FILE]...")
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
	s, err := store.OpenReadOnly(ctx, dbPath)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate verify: %v\n", err)
		return exitUsage
	}
	defer s.Close()
	r, err := audit.Verify(ctx, s.DB(), keys...)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate verify: %s: %v\n", store.Describe(dbPath), err)
		return exitUsage
	}
	printReport(stdout, dbPath, keysLabel(keys), r)
	if !r.OK {
		return exitCheckFailed
	}
	if af.enabled {
		return verifyAnchors(ctx, src.config, s, keys, af, stdout, stderr)
	}
	return exitOK
}

func printReport(w io.Writer, dbPath, keyName string, r audit.Report) {
	fmt.Fprintf(w, "database:        %s\n", store.Describe(dbPath))
	if !r.OK {
		fmt.Fprintf(w, "verified:        %d entries before the first problem\n", r.Size)
		fmt.Fprintf(w, "FAIL: %s\n", r.Problem)
		return
	}
	fmt.Fprintf(w, "entries:         %d\n", r.Size)
	fmt.Fprintf(w, "root:            %s\n", base64.StdEncoding.EncodeToString(r.Root[:]))
	fmt.Fprintf(w, "checkpoints:     %d, every signature valid for %s\n", r.Checkpoints, r.SignedBy(keyName))
	if r.HasCheckpoint {
		fmt.Fprintf(w, "last checkpoint: tree size %d, signed %s\n", r.LastCheckpoint.Size, r.LastCheckpoint.Time.Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "last checkpoint: none\n")
	}
	if r.UnsignedTail > 0 {
		fmt.Fprintf(w, "unsigned tail:   %d entries after the last signed checkpoint (seq %d..%d): their hashes fit,\n",
			r.UnsignedTail, r.Size-r.UnsignedTail, r.Size-1)
		fmt.Fprintf(w, "                 but no signature covers them, so whoever holds the database file could have\n")
		fmt.Fprintf(w, "                 forged or rewritten them. They are verified once a later checkpoint covers them.\n")
	} else {
		fmt.Fprintf(w, "unsigned tail:   0 entries after the last signed checkpoint\n")
	}
	if r.UnsignedTail > 0 {
		fmt.Fprintf(w, "OK (signed through seq %d; %d unsigned entries after it)\n", r.Size-r.UnsignedTail-1, r.UnsignedTail)
		return
	}
	fmt.Fprintln(w, "OK")
}
