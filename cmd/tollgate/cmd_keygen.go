package main

import (
	"context"
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/internal/keyfiles"
)

func init() {
	register("keygen", "write a new, named audit (or attestation) signing key pair (for a key rotation)", runKeygen)
}

func runKeygen(_ context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlags("keygen", stdout, stderr,
		[]string{"tollgate keygen --name NAME [--out DIR] [--attestation]"},
		"Writes a new audit signing key pair, never over an existing file. To rotate the audit",
		"key with it, follow docs/operations.md (\"Rotating the audit signing key\").",
		"With --attestation, writes an attestation signing key pair instead; to rotate that key",
		"follow docs/attestation.md (\"Rotating the attestation key\").",
		"Exit 0 written, 2 bad usage, or a key file of that name already exists.",
	)
	name := flags.String("name", "", "key `NAME` (required; checkpoints name it as origin tollgate/NAME), e.g. tollgate-2026")
	out := flags.String("out", ".", "`DIR` to write audit-signing-NAME.key (0600) and audit-signing-NAME.pub into")
	attestation := flags.Bool("attestation", false, "write attestation-signing-NAME.key and .pub, the key that signs deployment attestations")
	if code, done := flags.Parse(args); done {
		return code
	}
	if *name == "" {
		return flags.Fail("--name NAME is required")
	}
	if *attestation {
		priv, pub, code := writeKeyPair(keyfiles.Attestation, "keygen", *out, "attestation-signing-"+*name+".key", "attestation-signing-"+*name+".pub", *name, stdout, stderr)
		if code == exitOK {
			fmt.Fprintf(stdout, "To rotate to it: set\n  attestation:\n    signing_key_file: %s\n", priv)
			fmt.Fprintln(stdout, "    previous_public_key_files: [OLD.pub@TIME]   # TIME: the restart onto the new key (RFC 3339)")
			fmt.Fprintln(stdout, "and restart: the old key then verifies only attestations from before TIME. Keep the old")
			fmt.Fprintf(stdout, "public key for verifiers (attest verify --public-key %s --retired-key OLD.pub@TIME).\nSee docs/attestation.md.\n", pub)
		}
		return code
	}
	priv, pub, code := writeKeyPair(keyfiles.Audit, "keygen", *out, "audit-signing-"+*name+".key", "audit-signing-"+*name+".pub", *name, stdout, stderr)
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

// writeKeyPair writes a key pair of kind (keyfiles.Write); on failure it
// tells stderr why and returns exitUsage.
func writeKeyPair(kind keyfiles.Kind, cmd, dir, privName, pubName, keyName string, stdout, stderr io.Writer) (priv, pub string, code int) {
	priv, pub, err := keyfiles.Write(kind, dir, privName, pubName, keyName, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "tollgate %s: %v\n", cmd, err)
		return "", "", exitUsage
	}
	return priv, pub, exitOK
}
