package audit_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/store/audit"
)

func TestGenerateKeyFiles(t *testing.T) {
	dir := t.TempDir()
	priv, pub := filepath.Join(dir, "audit.key"), filepath.Join(dir, "audit.pub")
	vkey, err := audit.GenerateKeyFiles(priv, pub, "acme")
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(priv)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	signer, err := audit.LoadSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := audit.LoadVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	derived, err := audit.VerifierFromSigningKeyFile(priv)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, signer)
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]note.Verifier{"public key file": verifier, "derived from the signing key": derived} {
		if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
			t.Errorf("%s does not verify the signing key's note: %v", name, err)
		}
	}
	if vkey != mustRead(t, pub) {
		t.Fatalf("returned key %q differs from the file", vkey)
	}

	// A second run refuses and leaves both keys as they were.
	before := mustRead(t, priv)
	if _, err := audit.GenerateKeyFiles(priv, filepath.Join(dir, "other.pub"), "acme"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("overwriting an existing key: err = %v", err)
	}
	if _, err := audit.GenerateKeyFiles(filepath.Join(dir, "other.key"), pub, "acme"); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("overwriting an existing public key: err = %v", err)
	}
	if mustRead(t, priv) != before {
		t.Fatal("private key changed")
	}
	if _, err := os.Stat(filepath.Join(dir, "other.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a refused run left a key behind")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:len(b)-1])
}

func TestGenerateKeyFilesRefusesANameSignaturesCannotCarry(t *testing.T) {
	for _, name := range []string{"bad+name", "two words", ""} {
		dir := t.TempDir()
		priv, pub := filepath.Join(dir, "k.key"), filepath.Join(dir, "k.pub")
		if _, err := audit.GenerateKeyFiles(priv, pub, name); err == nil {
			t.Errorf("name %q: accepted", name)
		}
		if _, err := os.Stat(priv); err == nil {
			t.Errorf("name %q: wrote %s", name, priv)
		}
	}
}
