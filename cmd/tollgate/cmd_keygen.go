package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/tollgate-dev/tollgate/store/audit"
)

func init() {
	register("keygen", "write a new, named audit signing key pair (for a key rotation)", runKeygen)
}

// keyNameRE is what a key name may hold: it is part of file names and of
// every signature line.
var keyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func runKeygen(_ context.Context, args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("keygen", flag.ContinueOnError)
	flags.SetOutput(stderr)
	name := flags.String("name", "", "key `NAME` (required; checkpoints name it as origin tollgate/NAME), e.g. tollgate-2026")
	out := flags.String("out", ".", "`DIR` to write audit-signing-NAME.key (0600) and audit-signing-NAME.pub into")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: tollgate keygen --name NAME [--out DIR]")
		fmt.Fprintln(stderr, "Writes a new audit signing key pair, never over an existing file. To rotate the audit")
		fmt.Fprintln(stderr, "key with it, follow docs/operations.md (\"Rotating the audit signing key\").")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil || flags.NArg() > 0 || *name == "" {
		if err == nil {
			flags.Usage()
		}
		return exitUsage
	}
	if !keyNameRE.MatchString(*name) {
		fmt.Fprintf(stderr, "tollgate keygen: key name %q: use letters, digits, '.', '_' and '-'\n", *name)
		return exitUsage
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintf(stderr, "tollgate keygen: %v\n", err)
		return exitUsage
	}
	priv := filepath.Join(*out, "audit-signing-"+*name+".key")
	pub := filepath.Join(*out, "audit-signing-"+*name+".pub")
	vkey, err := audit.GenerateKeyFiles(priv, pub, *name)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate keygen: %v\n", err)
		if errors.Is(err, fs.ErrExist) {
			return exitCheckFailed
		}
		return exitUsage
	}
	fmt.Fprintf(stdout, "wrote %s (private, mode 0600: keep it secret and backed up)\n", priv)
	fmt.Fprintf(stdout, "wrote %s (public key for auditors: %s)\n", pub, vkey)
	fmt.Fprintln(stdout, "To rotate to it: stop Tollgate (its shutdown signs a final checkpoint with the old key), set")
	fmt.Fprintln(stdout, "  audit:")
	fmt.Fprintf(stdout, "    signing_key_file: %s\n", priv)
	fmt.Fprintf(stdout, "    public_key_file: %s\n", pub)
	fmt.Fprintln(stdout, "    previous_public_key_files: [OLD.pub]   # every public key used before, kept for verification")
	fmt.Fprintln(stdout, "then start it and run `tollgate verify --config FILE`. See docs/operations.md.")
	return exitOK
}
