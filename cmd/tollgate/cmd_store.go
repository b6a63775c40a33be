package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/internal/auditcheck"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

func init() {
	registerGroup(group{name: "store",
		about: []string{"Moves an install's database between SQLite and PostgreSQL."},
		subs:  []subcommand{{"migrate", "copy the database into another, empty one and check the copy", runStoreMigrate}}},
		"move the database: store migrate --from PATH.db --to postgres://…")
}

func runStoreMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("store migrate", stdout, stderr,
		[]string{"tollgate store migrate --from PATH.db --to postgres://USER:PASSWORD@HOST/DATABASE [--public-key FILE]..."},
		"Copies every table from one database to another, empty one (SQLite to PostgreSQL, or back),",
		"then checks that every table and the audit log's tree root are the same on both sides.",
		"With --public-key, the copied audit log is also verified. Stop `tollgate serve` first:",
		"what it writes after the copy starts is not copied. Exit 0 copied, 1 failed, 2 bad usage.",
	)
	from := fs.String("from", "", "the database to copy: a SQLite `PATH` or a postgres:// URL")
	to := fs.String("to", "", "the empty database to copy into: a postgres:// `URL` or a SQLite path")
	var keys keyFiles
	fs.Var(&keys, "public-key", publicKeyUsage)
	if code, done := fs.Parse(args); done {
		return code
	}
	if *from == "" || *to == "" {
		return fs.Fail("--from and --to are required")
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
		fmt.Fprintf(stdout, "  %-20s %s, the same on both sides\n", t.Name, plural(t.Rows, "row", "rows"))
	}
	fmt.Fprintf(stdout, "audit log:       %s, root %s on both sides\n", plural(rep.AuditSize, "entry", "entries"), base64.StdEncoding.EncodeToString(rep.AuditRoot[:]))
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
