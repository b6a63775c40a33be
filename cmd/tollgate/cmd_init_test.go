package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
)

func TestInitWritesKeysAndStarterConfig(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "etc")
	code, out, errOut := runCLI(t, "init", "--out", dir, "--key-name", "acme-prod")
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

	// The attestation key pair is its own key, 0600, named after the key name.
	ak, err := attest.LoadSigningKey(filepath.Join(dir, initAttestKey))
	if err != nil {
		t.Fatal(err)
	}
	apub, err := attest.LoadPublicKey(filepath.Join(dir, initAttestPub))
	if err != nil || apub.ID != ak.ID() || !strings.HasPrefix(ak.ID(), "acme-prod-attestation+") {
		t.Fatalf("attestation public key %q for signing key %q: %v", apub.ID, ak.ID(), err)
	}
	if st, err := os.Stat(filepath.Join(dir, initAttestKey)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("attestation key mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if !strings.Contains(string(body), "signing_key_file: attestation-signing.key") {
		t.Errorf("starter config names no attestation key:\n%s", body)
	}

	// A second init refuses, changing nothing.
	before, _ := os.ReadFile(priv)
	code, _, errOut = runCLI(t, "init", "--out", dir)
	if code != exitUsage || !strings.Contains(errOut, "refusing to overwrite a key") {
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
	code, out, errOut := runCLI(t, "init", "--out", dir)
	if code != exitOK || !strings.Contains(out, "kept the existing") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	if b, _ := os.ReadFile(cfg); string(b) != "# mine\n" {
		t.Fatalf("config overwritten: %q", b)
	}
}

// TestInitThenCheckConfig: what init writes is a config check-config
// accepts once the operator has supplied what only they have (the App's
// key, an SSH key and known_hosts, the ${VAR}s), with no complaint about
// any file init was meant to write, the HMAC key among them.
func TestInitThenCheckConfig(t *testing.T) {
	dir := t.TempDir()
	if code, out, errOut := runCLI(t, "init", "--out", dir); code != exitOK {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	hmacKey := filepath.Join(dir, initHMACKey)
	st, err := os.Stat(hmacKey)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("HMAC key %s: %v, %v; want mode 0600", hmacKey, st, err)
	}
	key, err := store.LoadHMACKey(hmacKey)
	if err != nil || len(key) != store.HMACKeySize {
		t.Fatalf("HMAC key: %d bytes, %v", len(key), err)
	}
	for _, v := range []string{"TOLLGATE_PUBLIC_URL=https://tollgate.example.com", "GITHUB_APP_ID=12345",
		"GITHUB_WEBHOOK_SECRET=whsec", "GITHUB_OAUTH_CLIENT_ID=Iv1.abc", "GITHUB_OAUTH_CLIENT_SECRET=ocs"} {
		name, value, _ := strings.Cut(v, "=")
		t.Setenv(name, value)
	}
	writeTestFile(t, filepath.Join(dir, "github-app.pem"), "-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----\n")
	writeTestSSHKey(t, filepath.Join(dir, "staging_ed25519"), "")
	writeTestFile(t, filepath.Join(dir, "known_hosts_staging"), "")

	code, out, errOut := runCLI(t, "check-config", filepath.Join(dir, initConfig))
	if code != exitOK {
		t.Fatalf("check-config of the starter config: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Contains(errOut, "audit") {
		t.Errorf("check-config warns about the audit files init wrote:\n%s", errOut)
	}
	body, _ := os.ReadFile(filepath.Join(dir, initConfig))
	if !strings.Contains(string(body), "hmac_key_file: "+initHMACKey) {
		t.Errorf("starter config does not name the HMAC key:\n%s", body)
	}
}

// TestInitNeverReplacesAnHMACKey: an HMAC key already in the directory
// (values hashed under it must stay checkable) is kept as it is.
func TestInitNeverReplacesAnHMACKey(t *testing.T) {
	dir := t.TempDir()
	hmacKey := filepath.Join(dir, initHMACKey)
	old, _, err := store.EnsureHMACKey(hmacKey)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "init", "--out", dir)
	if code != exitOK || !strings.Contains(out, "kept the existing "+hmacKey) {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	if now, err := store.LoadHMACKey(hmacKey); err != nil || string(now) != string(old) {
		t.Fatalf("HMAC key replaced (%v)", err)
	}
}

// TestInitRefusesBadUsage: init checks a key name as keygen does, and a
// stray argument shows the usage; either way nothing is written.
func TestInitRefusesBadUsage(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "a key name a signature cannot carry", args: []string{"--key-name", "bad+name"}, wantErr: `key name "bad+name": use letters, digits`},
		{name: "a key name with a slash", args: []string{"--key-name", "acme/prod"}, wantErr: `key name "acme/prod"`},
		{name: "a stray argument", args: []string{"extra"}, wantErr: "tollgate init: unexpected argument \"extra\"\nusage: tollgate init"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "etc")
			code, out, errOut := runCLI(t, append([]string{"init", "--out", dir}, tc.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q\n%s", code, errOut, exitUsage, tc.wantErr, out)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("init wrote %s on bad usage (stat: %v)", dir, err)
			}
		})
	}
}
