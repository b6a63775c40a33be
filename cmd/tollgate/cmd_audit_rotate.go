package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// runAuditRotate hands audit signing over to a new key (audit.Log.Rotate):
// the key in use signs a final checkpoint and, with the new key, the
// handover entry; from then on only the new key may sign.
func runAuditRotate(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("audit rotate", stdout, stderr,
		[]string{"tollgate audit rotate --to NEW.key (--config FILE | --database PATH --signing-key OLD.key)"},
		"Retires the audit signing key in use and hands signing over to the new one, recorded in",
		"the audit log and signed by both. Stop Tollgate first; then point audit.signing_key_file",
		"at the new key. See docs/operations.md (\"Rotating the audit signing key\").",
		"Exit 0 rotated, 1 the rotation failed, 2 bad usage or a key that cannot be read.",
	)
	var keys evidenceKeys
	keys.register(fs.FlagSet)
	to := fs.String("to", "", "the new signing key `FILE` (from tollgate keygen)")
	if code, done := fs.Parse(args); done {
		return code
	}
	if *to == "" {
		return fs.Fail("--to FILE (the new signing key) is required")
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "tollgate audit rotate: %v\n", err)
		return code
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
