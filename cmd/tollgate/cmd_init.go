package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/tollgate-dev/tollgate/internal/keyfiles"
	"github.com/tollgate-dev/tollgate/store"
)

func init() {
	register("init", "write new audit and attestation signing key pairs, an HMAC key and a starter tollgate.yml", runInit)
}

// File names written by `tollgate init`.
const (
	initSigningKey = "audit-signing.key"
	initPublicKey  = "audit-signing.pub"
	initHMACKey    = "audit-hmac.key"
	initAttestKey  = "attestation-signing.key"
	initAttestPub  = "attestation-signing.pub"
	initConfig     = "tollgate.yml"
)

func runInit(_ context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlags("init", stdout, stderr,
		[]string{"tollgate init [--out DIR] [--key-name NAME]"},
		"Writes DIR/audit-signing.key (0600), DIR/audit-signing.pub, DIR/audit-hmac.key (0600),",
		"DIR/attestation-signing.key (0600), DIR/attestation-signing.pub and, if absent,",
		"DIR/tollgate.yml. Never overwrites an existing key.",
		"Exit 0 written, 2 bad usage, DIR cannot be written, or a key file already exists.",
	)
	dir := flags.String("out", ".", "`DIR` to write the keys and tollgate.yml into")
	keyName := flags.String("key-name", "tollgate", "`NAME` of the signing key; checkpoints name it as origin tollgate/NAME")
	if code, done := flags.Parse(args); done {
		return code
	}
	if _, _, code := writeKeyPair(keyfiles.Audit, "init", *dir, initSigningKey, initPublicKey, *keyName, stdout, stderr); code != exitOK {
		return code
	}
	if _, _, code := writeKeyPair(keyfiles.Attestation, "init", *dir, initAttestKey, initAttestPub, *keyName+"-attestation", stdout, stderr); code != exitOK {
		return code
	}
	hmacKey := filepath.Join(*dir, initHMACKey)
	if _, created, err := store.EnsureHMACKey(hmacKey); err != nil {
		fmt.Fprintf(stderr, "tollgate init: %v\n", err)
		return exitUsage
	} else if created {
		fmt.Fprintf(stdout, "wrote %s (private, mode 0600: values the audit log must not disclose are HMACed under it; keep it backed up)\n", hmacKey)
	} else {
		fmt.Fprintf(stdout, "kept the existing %s\n", hmacKey)
	}

	cfg := filepath.Join(*dir, initConfig)
	f, err := os.OpenFile(cfg, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		fmt.Fprintf(stdout, "kept the existing %s; point audit.signing_key_file at %s, audit.hmac_key_file at %s and attestation.signing_key_file at %s\n",
			cfg, initSigningKey, initHMACKey, initAttestKey)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "tollgate init: %v\n", err)
		return exitUsage
	}
	_, werr := io.WriteString(f, starterConfig)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		fmt.Fprintf(stderr, "tollgate init: write %s: %v\n", cfg, werr)
		return exitUsage
	}
	fmt.Fprintf(stdout, "wrote %s: fill it in, then run: tollgate check-config --config %s\n", cfg, cfg)
	return exitOK
}

// starterConfig is a minimal tollgate.yml; testdata/tollgate.example.yml and
// docs/config.md describe every key.
const starterConfig = `# tollgate.yml — starter written by "tollgate init". Fill in the values,
# then run "tollgate check-config --config tollgate.yml". Every key is described in
# docs/config.md; testdata/tollgate.example.yml is a complete example.
# Secrets come from environment variables through ${VAR}.

listen: ":8080"
public_url: ${TOLLGATE_PUBLIC_URL}
database: tollgate.db

audit:
  signing_key_file: audit-signing.key   # written by tollgate init; keep it 0600
  public_key_file: audit-signing.pub    # give this one to your auditor
  hmac_key_file: audit-hmac.key         # written by tollgate init; values that must not be disclosed are hashed under it
  checkpoint_every: 100
  retention_days: 400

attestation:
  signing_key_file: attestation-signing.key  # written by tollgate init; signs every release that goes live

github:
  app_id: ${GITHUB_APP_ID}
  private_key_file: github-app.pem      # the GitHub App's private key
  webhook_secret: ${GITHUB_WEBHOOK_SECRET}
  oauth_client_id: ${GITHUB_OAUTH_CLIENT_ID}
  oauth_client_secret: ${GITHUB_OAUTH_CLIENT_SECRET}
  org: your-org

repositories:
  your-org/your-repo:
    environments:
      staging:
        deployers: [your-team]
        branches: [main]
        servers:
          - host: staging.example.com
            user: deploy
        ssh:                            # one key per environment
          private_key_file: staging_ed25519
          known_hosts_file: known_hosts_staging
        path: /srv/your-app
`
