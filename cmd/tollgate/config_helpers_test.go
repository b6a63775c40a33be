package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"testing"

	"golang.org/x/crypto/ssh"
)

// writeTestSSHKey writes a new unencrypted ed25519 key to path (mode 0600)
// and returns its public half.
func writeTestSSHKey(t *testing.T, path string, passphrase string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func writeTestFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

const targetsYAML = `public_url: https://tollgate.example.com
database: tollgate.db
audit:
  signing_key_file: audit.key
github:
  app_id: 1
  private_key_file: app.pem
  webhook_secret: s3cret
  org: acme
repositories:
  acme/api:
    environments:
      staging:
        deployers: [backend]
        servers:
          - host: s1.example.com
            user: deploy
        ssh:
          private_key_file: staging.key
          known_hosts_file: known_hosts_staging
        path: /srv/api
      production:
        deployers: [backend]
        servers:
          - host: p1.example.com
            user: deploy
          - host: p2.example.com
            port: 2222
            user: web
            path: /srv/api-prod-2
        ssh:
          private_key_file: production.key
          known_hosts_file: known_hosts_production
        path: /srv/api-prod
        keep_releases: 10
        max_parallel: 1
        shared: [config/app.env, storage]
        hooks:
          before_switch: [./bin/migrate]
          after_switch: [sudo systemctl reload api, echo done]
        health_check:
          command: curl -fsS http://127.0.0.1:8000/healthz
          timeout: 5s
          retries: 4
          interval: 3s
        secrets: [postgres://api:hunter2@db/api]
  acme/web:
    environments:
      production:
        gate_only: true
        deployers: [frontend]
`
