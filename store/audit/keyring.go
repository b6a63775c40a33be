package audit

import (
	"fmt"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/internal/auditproof"
)

// Keyring is the set of audit public keys whose checkpoints are trusted:
// the current signing key's and the keys rotated out before it, kept so
// that checkpoints signed before a rotation still verify.
type Keyring []note.Verifier

// LoadKeyring reads public key files (LoadVerifier) into a keyring, in order.
func LoadKeyring(paths ...string) (Keyring, error) {
	k := make(Keyring, 0, len(paths))
	for _, p := range paths {
		v, err := LoadVerifier(p)
		if err != nil {
			return nil, err
		}
		k = append(k, v)
	}
	return k, nil
}

// keyID is how a key is named in messages: "name+hash", as in a signature.
func keyID(v interface {
	Name() string
	KeyHash() uint32
}) string {
	return fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash())
}

// String lists the keys as "name+hash", comma-separated.
func (k Keyring) String() string {
	ids := make([]string, len(k))
	for i, v := range k {
		ids[i] = keyID(v)
	}
	return strings.Join(ids, ", ")
}

// errNoKeys fails a check closed when no key is trusted at all.
var errNoKeys = auditproof.ErrNoKeys

// Unique drops nil and repeated keys (the same name and hash, such as the
// signing key's public key listed twice): note.VerifierList refuses two
// verifiers for one signature as ambiguous.
func (k Keyring) Unique() Keyring { return auditproof.Unique(k) }

// notSignedBy explains a note none of the keys signed.
func (k Keyring) notSignedBy(n *note.Note) string { return auditproof.NotSignedBy(k, n) }

// KeyRun is a run of consecutive checkpoints, in tree-size order, signed by
// one key: before and after a rotation there is one run per key.
type KeyRun struct {
	Key                 string // "name+hash"
	Name                string // the key's name
	Checkpoints         int
	FirstSize, LastSize int64 // tree sizes of its first and last checkpoint
}

// SignedBy says which keys signed the verified checkpoints, for reports:
// "key NAME" for one key, else each key with the tree sizes it signed, in
// log order. fallback names the key when no checkpoint was verified.
func (r Report) SignedBy(fallback string) string {
	switch len(r.Signers) {
	case 0:
		return "key " + fallback
	case 1:
		return "key " + r.Signers[0].Name
	}
	parts := make([]string, len(r.Signers))
	for i, s := range r.Signers {
		parts[i] = fmt.Sprintf("%s (tree sizes %d..%d)", s.Key, s.FirstSize, s.LastSize)
	}
	return "keys " + strings.Join(parts, ", then ")
}

// addSigner extends the runs with a verified checkpoint.
func addSigner(runs []KeyRun, cp Checkpoint) []KeyRun {
	if n := len(runs); n > 0 && runs[n-1].Key == cp.Key {
		runs[n-1].Checkpoints++
		runs[n-1].LastSize = cp.Size
		return runs
	}
	return append(runs, KeyRun{Key: cp.Key, Name: cp.KeyName, Checkpoints: 1, FirstSize: cp.Size, LastSize: cp.Size})
}
