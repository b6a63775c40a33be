package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/store/audit"
)

func TestInitWritesKeysAndStarterConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	code, out, errOut := runCLI(t, "init", "--dir", dir, "--key-name", "acme-prod")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	priv, pub, cfg := filepath.Join(dir, initSigningKey), filepath.Join(dir, initPublicKey), filepath.Join(dir, initConfig)
	st, err := os.Stat(priv)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("signing key mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	signer, err := audit.LoadSigner(priv)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := audit.LoadVerifier(pub)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := note.Sign(&note.Note{Text: "x\n"}, signer)
	if _, err := note.Open(msg, note.VerifierList(verifier)); err != nil || verifier.Name() != "acme-prod" {
		t.Fatalf("public key does not verify the signing key (%s): %v", verifier.Name(), err)
	}
	body, err := os.ReadFile(cfg)
	if err != nil || !strings.Contains(string(body), "signing_key_file: audit-signing.key") {
		t.Fatalf("starter config: %v\n%s", err, body)
	}

	// A second init refuses, changing nothing.
	before, _ := os.ReadFile(priv)
	code, _, errOut = runCLI(t, "init", "--dir", dir)
	if code != exitCheckFailed || !strings.Contains(errOut, "refusing to overwrite a key") {
		t.Fatalf("second init: exit %d %s", code, errOut)
	}
	after, _ := os.ReadFile(priv)
	if string(before) != string(after) {
		t.Fatal("second init changed the signing key")
	}
}

func TestInitKeepsExistingConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, initConfig)
	if err := os.WriteFile(cfg, []byte("# mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "init", "--dir", dir)
	if code != exitOK || !strings.Contains(out, "kept the existing") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(cfg); string(b) != "# mine\n" {
		t.Fatalf("config overwritten: %q", b)
	}
}
