package config

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/tollgate-dev/tollgate/deploy"
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

func writeTestFile(t *testing.T, path, content string) {
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
        max_parallel_servers: 1
        tarball_above_percent: 35
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

// loadTargetsConfig writes targetsYAML with its files into a temp dir and
// loads it; keys maps key file names to their public halves.
func loadTargetsConfig(t *testing.T, passphrase string) (*Config, map[string]ssh.PublicKey) {
	t.Helper()
	dir := t.TempDir()
	keys := map[string]ssh.PublicKey{
		"staging.key":    writeTestSSHKey(t, filepath.Join(dir, "staging.key"), ""),
		"production.key": writeTestSSHKey(t, filepath.Join(dir, "production.key"), passphrase),
	}
	for _, f := range []string{"audit.key", "app.pem", "known_hosts_staging", "known_hosts_production"} {
		writeTestFile(t, filepath.Join(dir, f), f)
	}
	path := filepath.Join(dir, "tollgate.yml")
	writeTestFile(t, path, targetsYAML)
	cfg, _, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, keys
}

func TestTargetsFromConfig(t *testing.T) {
	cfg, keys := loadTargetsConfig(t, "")
	ts, err := cfg.SSHTargets()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ts.Target("acme/web", "production"); ok {
		t.Error("a gate-only environment got an SSH target")
	}
	if len(ts) != 2 {
		t.Errorf("%d targets, want 2 (staging and production of acme/api)", len(ts))
	}
	dir := filepath.Dir(cfg.File)
	prod, ok := ts.Target("acme/api", "production")
	if !ok {
		t.Fatal("no target for acme/api production")
	}
	want := deploy.Target{
		Environment: "acme/api/production",
		Servers: []deploy.Server{{Host: "p1.example.com", Port: 22, User: "deploy"},
			{Host: "p2.example.com", Port: 2222, User: "web", Path: "/srv/api-prod-2"}},
		KnownHostsFile: filepath.Join(dir, "known_hosts_production"),
		Path:           "/srv/api-prod",
		KeepReleases:   10,
		MaxParallel:    1,
		Shared:         []string{"config/app.env", "storage"},
		Hooks:          deploy.Hooks{BeforeSwitch: []string{"./bin/migrate"}, AfterSwitch: []string{"sudo systemctl reload api", "echo done"}},
		HealthCheck: deploy.HealthCheck{Command: "curl -fsS http://127.0.0.1:8000/healthz", Timeout: 5 * time.Second,
			Retries: 4, Interval: 3 * time.Second},
		Secrets: []string{"postgres://api:hunter2@db/api"},
	}
	want.FetchChangedLimit = 0.35 // tarball_above_percent
	got := prod
	got.Signer = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("production target:\n got %+v\nwant %+v", got, want)
	}

	// Credential separation: each environment holds its own key, and only it.
	staging, _ := ts.Target("acme/api", "staging")
	for _, c := range []struct {
		name   string
		target deploy.Target
		key    string
	}{{"staging", staging, "staging.key"}, {"production", prod, "production.key"}} {
		if c.target.Signer == nil {
			t.Fatalf("%s has no signer", c.name)
		}
		if !bytes.Equal(c.target.Signer.PublicKey().Marshal(), keys[c.key].Marshal()) {
			t.Errorf("%s signs with a key other than %s", c.name, c.key)
		}
	}
	if staging.KnownHostsFile != filepath.Join(dir, "known_hosts_staging") {
		t.Errorf("staging known_hosts = %s", staging.KnownHostsFile)
	}
	if staging.HealthCheck != (deploy.HealthCheck{}) || len(staging.Secrets) != 0 {
		t.Errorf("staging got production's settings: %+v", staging)
	}
}

func TestTargetsFromConfigRefusesUnusableKeys(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(t *testing.T, cfg *Config)
		want    string
	}{
		{"passphrase", func(t *testing.T, cfg *Config) {
			env, _ := cfg.Environment("acme/api", "production")
			writeTestSSHKey(t, env.SSH.PrivateKeyFile, "secret words")
		}, "protected by a passphrase"},
		{"not a key", func(t *testing.T, cfg *Config) {
			env, _ := cfg.Environment("acme/api", "production")
			writeTestFile(t, env.SSH.PrivateKeyFile, "-----BEGIN NONSENSE-----\nc2VjcmV0LWJ5dGVz\n-----END NONSENSE-----\n")
		}, "is not a usable SSH private key"},
		{"removed after load", func(t *testing.T, cfg *Config) {
			env, _ := cfg.Environment("acme/api", "production")
			if err := os.Remove(env.SSH.PrivateKeyFile); err != nil {
				t.Fatal(err)
			}
		}, "no such file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, _ := loadTargetsConfig(t, "")
			c.prepare(t, cfg)
			_, err := cfg.SSHTargets()
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.want) || !strings.Contains(msg, "repositories.acme/api.environments.production") {
				t.Errorf("error %q should name the environment and say %q", msg, c.want)
			}
			if strings.Contains(msg, "c2VjcmV0") || strings.Contains(msg, "PRIVATE KEY") {
				t.Errorf("error leaks key material: %q", msg)
			}
		})
	}
}
