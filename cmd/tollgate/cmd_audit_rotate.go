package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

const auditRotateUsage = "       tollgate audit rotate --to NEW.key (--config FILE | --database PATH --signing-key OLD.key)"

// runAuditRotate hands audit signing over to a new key (audit.Log.Rotate):
// the key in use signs a final checkpoint and, with the new key, the
// handover entry; from then on only the new key may sign.
func runAuditRotate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("audit rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var keys evidenceKeys
	keys.register(fs)
	to := fs.String("to", "", "the new signing key `FILE` (from tollgate keygen)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage:"+strings.TrimPrefix(auditRotateUsage, "      "))
		fmt.Fprintln(stderr, "Retires the audit signing key in use and hands signing over to the new one, recorded in")
		fmt.Fprintln(stderr, "the audit log and signed by both. Stop Tollgate first; then point audit.signing_key_file")
		fmt.Fprintln(stderr, "at the new key. See docs/operations.md (\"Rotating the audit signing key\").")
		fs.PrintDefaults()
	}
	if !parseFlags(fs, args) {
		return exitUsage
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "tollgate audit rotate: %v\n", err)
		return code
	}
	if *to == "" {
		return fail(exitUsage, errors.New("--to FILE (the new signing key) is required"))
	}
	next, err := audit.LoadSigner(*to)
	if err != nil {
		return fail(exitUsage, err)
	}
	_, dbPath, cur, _, err := keys.resolve(true, false)
	if err != nil {
		return fail(exitUsage, err)
	}
	st, err := store.Open(ctx, dbPath, store.Options{Signer: cur})
	if err != nil {
		return fail(exitCheckFailed, err)
	}
	defer st.Close()
	h, err := st.Audit().Rotate(ctx, next)
	if err != nil {
		return fail(exitCheckFailed, err)
	}
	fmt.Fprintf(stdout, "rotated the audit log at tree size %d: %s is retired (it signed the checkpoint of size %d and the handover),\n",
		h.Size, h.Retired, h.Size)
	fmt.Fprintf(stdout, "%s signs from tree size %d on. Now set in the config, then start Tollgate:\n", h.Successor, h.Size+1)
	fmt.Fprintln(stdout, "  audit:")
	fmt.Fprintf(stdout, "    signing_key_file: %s\n", *to)
	fmt.Fprintf(stdout, "    public_key_file: %s   # its public key\n", strings.TrimSuffix(*to, ".key")+".pub")
	fmt.Fprintln(stdout, "    previous_public_key_files: [OLD.pub]   # add the retired key's public key to the list")
	return exitOK
}
