package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/internal/auditcheck"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

func init() {
	register("store", "move the database: store migrate --from PATH.db --to postgres://…", runStore)
}

func storeUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: tollgate store migrate --from PATH.db --to postgres://USER:PASSWORD@HOST/DATABASE [--public-key FILE]...")
	fmt.Fprintln(w, "Copies every table from one database to another, empty one (SQLite to PostgreSQL, or back),")
	fmt.Fprintln(w, "then checks that every table and the audit log's tree root are the same on both sides.")
	fmt.Fprintln(w, "With --public-key, the copied audit log is also verified. Stop `tollgate serve` first:")
	fmt.Fprintln(w, "what it writes after the copy starts is not copied. Exit 0 copied, 1 failed, 2 bad usage.")
}

func runStore(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "migrate" {
		storeUsage(stderr)
		return exitUsage
	}
	fs := flag.NewFlagSet("store migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the database to copy: a SQLite `PATH` or a postgres:// URL")
	to := fs.String("to", "", "the empty database to copy into: a postgres:// `URL` or a SQLite path")
	var keys keyFiles
	fs.Var(&keys, "public-key", publicKeyUsage)
	fs.Usage = func() { storeUsage(stderr); fs.PrintDefaults() }
	if !parseFlags(fs, args[1:]) {
		return exitUsage
	}
	if *from == "" || *to == "" {
		fmt.Fprintln(stderr, "tollgate store migrate: give --from and --to")
		return exitUsage
	}
	var trusted audit.Keyring
	if len(keys) > 0 {
		var err error
		if trusted, err = audit.LoadKeyring(keys...); err != nil {
			fmt.Fprintf(stderr, "tollgate store migrate: %v\n", err)
			return exitUsage
		}
	}
	opts := store.CopyOptions{Verifiers: trusted}
	rep, err := store.Copy(ctx, *from, *to, opts)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate store migrate: %v\n", err)
		return exitCheckFailed
	}
	fmt.Fprintf(stdout, "copied %s\n    to %s\n", store.Describe(*from), store.Describe(*to))
	for _, t := range rep.Tables {
		fmt.Fprintf(stdout, "  %-20s %d rows, the same on both sides\n", t.Name, t.Rows)
	}
	fmt.Fprintf(stdout, "audit log:       %d entries, root %s on both sides\n", rep.AuditSize, base64.StdEncoding.EncodeToString(rep.AuditRoot[:]))
	if !rep.Verified {
		fmt.Fprintln(stdout, "OK (give --public-key to verify the copied audit log too, or run `tollgate verify --database` on it)")
		return exitOK
	}
	auditcheck.WriteReport(stdout, *to, auditcheck.KeysLabel(trusted), rep.Verify)
	if !rep.Verify.OK {
		return exitCheckFailed
	}
	return exitOK
}
