package attest

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Attestation keys use the signed-note key format of the audit key
// ("PRIVATE+KEY+<name>+<hash>+<base64>" and "<name>+<hash>+<base64>"), so
// `tollgate keygen` writes them, they rotate the same way, and a
// signature's key id is "<name>+<hash>" as in an audit checkpoint.

// SigningKey is an attestation signing key.
type SigningKey struct {
	id   string
	priv ed25519.PrivateKey
}

// PublicKey is a trusted attestation public key. RetiredAt, when set, is
// when the key was rotated out: it still verifies attestations whose audit
// checkpoint was signed before then, and no later ones.
type PublicKey struct {
	ID        string // "<name>+<hash>"
	Key       ed25519.PublicKey
	RetiredAt time.Time
}

// ParseSigningKey reads a signing key in note format.
func ParseSigningKey(text string) (SigningKey, error) {
	bad := errors.New("not a signed-note ed25519 private key")
	rest, ok := strings.CutPrefix(strings.TrimSpace(text), "PRIVATE+KEY+")
	parts := strings.SplitN(rest, "+", 3) // the base64 key may itself hold "+"
	if !ok || len(parts) != 3 {
		return SigningKey{}, bad
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != 1 {
		return SigningKey{}, bad
	}
	priv := ed25519.NewKeyFromSeed(raw[1:])
	pub, err := newPublicKey(parts[0], priv.Public().(ed25519.PublicKey))
	if err != nil || pub.ID != parts[0]+"+"+parts[1] {
		return SigningKey{}, bad
	}
	return SigningKey{id: pub.ID, priv: priv}, nil
}

// ParsePublicKey reads a public key in note verifier format.
func ParsePublicKey(text string) (PublicKey, error) {
	text = strings.TrimSpace(text)
	v, err := note.NewVerifier(text)
	if err != nil {
		return PublicKey{}, fmt.Errorf("not a signed-note public key: %w", err)
	}
	parts := strings.SplitN(text, "+", 3)
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != 1 {
		return PublicKey{}, errors.New("not an ed25519 public key")
	}
	return PublicKey{ID: fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash()), Key: ed25519.PublicKey(raw[1:])}, nil
}

// LoadSigningKey reads a signing key file. The error never holds the key.
func LoadSigningKey(path string) (SigningKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return SigningKey{}, fmt.Errorf("read attestation signing key: %w", err)
	}
	k, err := ParseSigningKey(string(b))
	if err != nil {
		return SigningKey{}, fmt.Errorf("attestation signing key %s: %w", path, err)
	}
	return k, nil
}

// LoadPublicKey reads a public key file.
func LoadPublicKey(path string) (PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return PublicKey{}, fmt.Errorf("read attestation public key: %w", err)
	}
	k, err := ParsePublicKey(string(b))
	if err != nil {
		return PublicKey{}, fmt.Errorf("attestation public key %s: %w", path, err)
	}
	return k, nil
}

// SplitRetiredKey splits a rotated-out key's "FILE@TIME" (`attest verify
// --retired-key`, attestation.previous_public_key_files) into the file
// and its retirement time, RFC 3339 or a UTC day (YYYY-MM-DD). Without
// "@" it is the file alone and the time is zero (no retirement time). The
// last "@" separates them, so a path holding "@" is followed by its time.
func SplitRetiredKey(spec string) (file string, retiredAt time.Time, err error) {
	i := strings.LastIndex(spec, "@")
	if i < 0 {
		return spec, time.Time{}, nil
	}
	file, ts := spec[:i], spec[i+1:]
	if file == "" {
		return "", time.Time{}, fmt.Errorf("%q names no key file before its retirement time", spec)
	}
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		if at, err = time.Parse(time.DateOnly, ts); err != nil {
			return "", time.Time{}, fmt.Errorf("retirement time %q is neither RFC 3339 nor YYYY-MM-DD", ts)
		}
	}
	return file, at.UTC(), nil
}

// ID is the key id "<name>+<hash>" written into signatures.
func (k SigningKey) ID() string { return k.id }

// Public returns the key's public half.
func (k SigningKey) Public() PublicKey {
	return PublicKey{ID: k.id, Key: k.priv.Public().(ed25519.PublicKey)}
}

// String returns the public key in note verifier format, for key files.
func (k PublicKey) String() string {
	return k.ID + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, k.Key...))
}

func newPublicKey(name string, pub ed25519.PublicKey) (PublicKey, error) {
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		return PublicKey{}, err
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return PublicKey{}, err
	}
	return PublicKey{ID: fmt.Sprintf("%s+%08x", v.Name(), v.KeyHash()), Key: pub}, nil
}

// dsseSigner signs the DSSE pre-authentication encoding with ed25519.
type dsseSigner struct{ k SigningKey }

func (s dsseSigner) Sign(_ context.Context, pae []byte) ([]byte, error) {
	return ed25519.Sign(s.k.priv, pae), nil
}
func (s dsseSigner) KeyID() (string, error) { return s.k.id, nil }

// dsseVerifier checks a DSSE signature with one trusted key.
type dsseVerifier struct{ k PublicKey }

var errBadSignature = errors.New("ed25519 signature does not verify")

func (v dsseVerifier) Verify(_ context.Context, pae, sig []byte) error {
	if !ed25519.Verify(v.k.Key, pae, sig) {
		return errBadSignature
	}
	return nil
}
func (v dsseVerifier) KeyID() (string, error)   { return v.k.ID, nil }
func (v dsseVerifier) Public() crypto.PublicKey { return v.k.Key }

// GenerateKeyFiles writes a new attestation key pair named name: the
// signing key to privPath (mode 0600) and the public key to pubPath (0644).
// It never overwrites a file; it returns the public key.
func GenerateKeyFiles(privPath, pubPath, name string) (PublicKey, error) {
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return PublicKey{}, fmt.Errorf("write attestation key %s: %w (refusing to overwrite a key)", p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return PublicKey{}, fmt.Errorf("write attestation key %s: %w", p, err)
		}
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return PublicKey{}, fmt.Errorf("generate attestation key %q: %w", name, err)
	}
	k, err := ParseSigningKey(skey)
	if err != nil { // GenerateKey accepts names its own parsers refuse ("+", spaces)
		return PublicKey{}, fmt.Errorf("generate attestation key %q: the name must be non-empty, without \"+\" or spaces", name)
	}
	if err := writeNewFile(privPath, skey+"\n", 0o600); err != nil {
		return PublicKey{}, err
	}
	if err := writeNewFile(pubPath, vkey+"\n", 0o644); err != nil {
		_ = os.Remove(privPath) // a private key without its public half is of no use
		return PublicKey{}, err
	}
	return k.Public(), nil
}

// writeNewFile creates path exclusively (O_EXCL) with content.
func writeNewFile(path, content string, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write attestation key %s: %w", path, err)
	}
	_, werr := f.WriteString(content)
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write attestation key %s: %w", path, werr)
	}
	return nil
}
