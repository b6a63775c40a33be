// Package keyfiles writes the signing key pairs `tollgate init` and
// `tollgate keygen` create: the audit key (checkpoints) and the
// attestation key (deployment attestations), each a signed-note ed25519
// key, the private half 0600, never over an existing file.
package keyfiles

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// Kind is what a key signs.
type Kind int

// Kinds of keys.
const (
	Audit       Kind = iota + 1 // audit checkpoints
	Attestation                 // deployment attestations
)

// nameRE is what a key name may hold: it is part of file names and of
// every signature line.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// Write writes a new key pair of kind named name as dir/privName (0600)
// and dir/pubName, never over an existing file, and says where on stdout.
// Its error is the environment's problem (a bad name, a key file that
// already exists), meant for the user as it is.
func Write(kind Kind, dir, privName, pubName, name string, stdout io.Writer) (priv, pub string, err error) {
	if !nameRE.MatchString(name) {
		return "", "", fmt.Errorf("key name %q: use letters, digits, '.', '_' and '-'", name)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	priv, pub = filepath.Join(dir, privName), filepath.Join(dir, pubName)
	var public string
	switch kind {
	case Attestation:
		k, gerr := attest.GenerateKeyFiles(priv, pub, name)
		public, err = k.String(), gerr
	default:
		public, err = audit.GenerateKeyFiles(priv, pub, name)
	}
	if err != nil {
		return "", "", err
	}
	fmt.Fprintf(stdout, "wrote %s (private, mode 0600: keep it secret and backed up)\n", priv)
	fmt.Fprintf(stdout, "wrote %s (public key for auditors: %s)\n", pub, public)
	return priv, pub, nil
}
