package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/internal/auditcheck"
)

func init() {
	register("verify", "recompute the audit log and check its signed checkpoints (exit 1 on tampering)", runVerify)
}

func runVerify(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("verify", stdout, stderr,
		[]string{
			"tollgate verify --config FILE [--anchors]",
			"tollgate verify --database PATH|postgres://… --public-key FILE [--public-key FILE]...",
		},
		"Recomputes every audit entry and the Merkle tree from the rows and checks every",
		"signed checkpoint. The database is opened read-only: verify a copy of it alone.",
		"After an audit key rotation, give every public key (or list the old ones in",
		"audit.previous_public_key_files): each checkpoint must be signed by one of them.",
		"It also re-verifies every security key assertion recorded with an approval",
		"(signature and binding to what was approved).",
		"Exit 0 verified, 1 tampering found, 2 bad usage.",
	)
	var src auditSource
	src.register(fs.FlagSet, true)
	var af anchorFlags
	fs.BoolVar(&af.enabled, "anchors", false, "also prove the log consistent with every checkpoint in audit.anchor_repository (needs --config)")
	fs.StringVar(&af.since, "anchors-since", "", "first `DAY` (YYYY-MM-DD) of anchor files to read when the folder cannot be listed (default: retention_days ago)")
	if code, done := fs.Parse(args); done {
		return code
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
	if m, err := auditcheck.VerifyMFA(ctx, s, stdout); err != nil {
		fmt.Fprintf(stderr, "tollgate verify: %v\n", err)
		return exitUsage
	} else if !m.OK() {
		return exitCheckFailed
	}
	if af.enabled {
		return verifyAnchors(ctx, src.config, s, keys, af, stdout, stderr)
	}
	return exitOK
}
