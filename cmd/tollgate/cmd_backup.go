package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/tollgate-dev/tollgate/internal/auditcheck"
	"io"
	iofs "io/fs"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

func init() {
	register("backup", "copy the live SQLite database consistently (online backup API) and verify the copy", runBackup)
}

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlags("backup", stderr,
		"usage: tollgate backup --config tollgate.yml --out PATH",
		"       tollgate backup --database PATH [--public-key FILE] --out PATH",
		"Copies the database with SQLite's online backup API while tollgate serve keeps",
		"running: the copy is one consistent snapshot in a single file (mode 0600).",
		"Never copy tollgate.db with cp: without its -wal file the copy misses commits.",
		"The copy's audit log is verified when a public key is known (exit 1 if it fails).",
	)
	var src auditSource
	src.register(flags, true)
	out := flags.String("out", "", "`PATH` of the backup file to write (must not exist)")
	if !parseFlags(flags, args) {
		return exitUsage
	}
	if *out == "" {
		flags.Usage()
		return exitUsage
	}
	dbPath, _, err := src.resolve(false)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate backup: %v\n", err)
		return exitUsage
	}
	s, err := store.OpenReadOnly(ctx, dbPath)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate backup: %v\n", err)
		return exitUsage
	}
	res, err := s.Backup(ctx, *out)
	s.Close()
	if err != nil {
		fmt.Fprintf(stderr, "tollgate backup: %v\n", err)
		if errors.Is(err, iofs.ErrExist) {
			return exitUsage
		}
		return exitCheckFailed
	}
	fmt.Fprintf(stdout, "wrote %s (%d pages, %d bytes) from %s\n", res.Path, res.Pages, res.Bytes, dbPath)
	return verifyBackup(ctx, src, res.Path, stdout, stderr)
}

// verifyBackup runs the audit verification on the copy when a public key
// is known: a backup that does not verify is not a backup to rely on.
func verifyBackup(ctx context.Context, src auditSource, path string, stdout, stderr io.Writer) int {
	_, keys, err := src.resolve(true)
	if err != nil {
		fmt.Fprintf(stdout, "audit log not verified (%v); run: tollgate verify --database %s --public-key FILE\n", err, path)
		return exitOK
	}
	c, err := store.OpenReadOnly(ctx, path)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate backup: open the copy: %v\n", err)
		return exitCheckFailed
	}
	defer c.Close()
	r, err := audit.Verify(ctx, c.DB(), keys...)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate backup: verify the copy: %v\n", err)
		return exitCheckFailed
	}
	if !r.OK {
		fmt.Fprintf(stdout, "audit log of the copy: FAIL: %s\n", r.Problem)
		return exitCheckFailed
	}
	fmt.Fprintf(stdout, "audit log of the copy: OK, %d entries, %d signed checkpoints (%s)\n", r.Size, r.Checkpoints, r.SignedBy(auditcheck.KeysLabel(keys)))
	return exitOK
}
