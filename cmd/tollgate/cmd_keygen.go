package main

import (
	"context"
	"errors"
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
	flags := newFlags("keygen", stderr,
		"usage: tollgate keygen --name NAME [--out DIR]",
		"Writes a new audit signing key pair, never over an existing file. To rotate the audit",
		"key with it, follow docs/operations.md (\"Rotating the audit signing key\").",
	)
	name := flags.String("name", "", "key `NAME` (required; checkpoints name it as origin tollgate/NAME), e.g. tollgate-2026")
	out := flags.String("out", ".", "`DIR` to write audit-signing-NAME.key (0600) and audit-signing-NAME.pub into")
	if !parseFlags(flags, args) {
		return exitUsage
	}
	if *name == "" {
		flags.Usage()
		return exitUsage
	}
	priv, pub, code := writeAuditKeyPair("keygen", *out, "audit-signing-"+*name+".key", "audit-signing-"+*name+".pub", *name, stdout, stderr)
	if code != exitOK {
		return code
	}
	fmt.Fprintln(stdout, "To rotate to it: stop Tollgate, hand the audit log over to it (signed by both keys) with")
	fmt.Fprintf(stdout, "  tollgate audit rotate --config FILE --to %s\n", priv)
	fmt.Fprintln(stdout, "then set")
	fmt.Fprintln(stdout, "  audit:")
	fmt.Fprintf(stdout, "    signing_key_file: %s\n", priv)
	fmt.Fprintf(stdout, "    public_key_file: %s\n", pub)
	fmt.Fprintln(stdout, "    previous_public_key_files: [OLD.pub]   # every public key used before, kept for verification")
	fmt.Fprintln(stdout, "then start it and run `tollgate verify --config FILE`. See docs/operations.md.")
	return exitOK
}

// writeAuditKeyPair writes a new audit signing key pair named keyName as
// dir/privName (0600) and dir/pubName, never over an existing file, and
// says where on stdout. On failure it tells stderr why and returns the exit
// code: exitCheckFailed when a key file already exists, else exitUsage.
func writeAuditKeyPair(cmd, dir, privName, pubName, keyName string, stdout, stderr io.Writer) (priv, pub string, code int) {
	// The name is in every signature line and, for keygen, in file names.
	if !keyNameRE.MatchString(keyName) {
		fmt.Fprintf(stderr, "tollgate %s: key name %q: use letters, digits, '.', '_' and '-'\n", cmd, keyName)
		return "", "", exitUsage
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "tollgate %s: %v\n", cmd, err)
		return "", "", exitUsage
	}
	priv, pub = filepath.Join(dir, privName), filepath.Join(dir, pubName)
	vkey, err := audit.GenerateKeyFiles(priv, pub, keyName)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate %s: %v\n", cmd, err)
		if errors.Is(err, fs.ErrExist) {
			return "", "", exitCheckFailed
		}
		return "", "", exitUsage
	}
	fmt.Fprintf(stdout, "wrote %s (private, mode 0600: keep it secret and backed up)\n", priv)
	fmt.Fprintf(stdout, "wrote %s (public key for auditors: %s)\n", pub, vkey)
	return priv, pub, exitOK
}
