package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// GenerateKeyFiles writes a new ed25519 signing key named name to privPath
// (mode 0600, the "PRIVATE+KEY+..." string) and its verifier key to pubPath
// (mode 0644). It never overwrites: if either file exists it returns an
// error wrapping fs.ErrExist and writes nothing.
func GenerateKeyFiles(privPath, pubPath, name string) (vkey string, err error) {
	for _, p := range []string{privPath, pubPath} {
		if _, err := os.Lstat(p); err == nil {
			return "", fmt.Errorf("write audit key %s: %w (refusing to overwrite a key)", p, fs.ErrExist)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("write audit key %s: %w", p, err)
		}
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		return "", fmt.Errorf("generate audit key %q: %w", name, err)
	}
	// GenerateKey accepts names its own parsers refuse ("+", spaces).
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", fmt.Errorf("generate audit key %q: the name must be non-empty, without \"+\" or spaces", name)
	}
	if err := writeNew(privPath, skey+"\n", 0o600); err != nil {
		return "", err
	}
	if err := writeNew(pubPath, vkey+"\n", 0o644); err != nil {
		os.Remove(privPath) // a private key without its public half is of no use
		return "", err
	}
	return vkey, nil
}

// writeNew creates path exclusively (O_EXCL), so a key is never overwritten
// even if it appeared after the check above.
func writeNew(path, content string, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("write audit key %s: %w", path, err)
	}
	if _, err := f.WriteString(content); err != nil {
		f.Close()
		return fmt.Errorf("write audit key %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write audit key %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write audit key %s: %w", path, err)
	}
	return nil
}

// LoadSigner reads a signing key file written by GenerateKeyFiles.
func LoadSigner(path string) (note.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read audit signing key: %w", err)
	}
	s, err := note.NewSigner(strings.TrimSpace(string(b)))
	if err != nil {
		// The error text would not contain the key, but keep it out anyway.
		return nil, fmt.Errorf("audit signing key %s is not a signed-note private key", path)
	}
	return s, nil
}

// LoadVerifier reads a public (verifier) key file.
func LoadVerifier(path string) (note.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read audit public key: %w", err)
	}
	v, err := note.NewVerifier(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("audit public key %s: %w", path, err)
	}
	return v, nil
}

// VerifierFromSigningKeyFile derives the verifier of a signing key file,
// for configs that name only the signing key.
func VerifierFromSigningKeyFile(path string) (note.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read audit signing key: %w", err)
	}
	bad := fmt.Errorf("audit signing key %s is not a signed-note ed25519 private key", path)
	rest, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "PRIVATE+KEY+")
	parts := strings.SplitN(rest, "+", 3) // the base64 key may itself hold "+"
	if !ok || len(parts) != 3 {
		return nil, bad
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return nil, bad
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(parts[0], pub)
	if err != nil {
		return nil, bad
	}
	v, err := note.NewVerifier(vkey)
	if err != nil || fmt.Sprintf("%08x", v.KeyHash()) != parts[1] {
		return nil, bad
	}
	return v, nil
}
