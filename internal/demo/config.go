package demo

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// demoConfigName is the config file the demo writes into its data directory.
const demoConfigName = "tollgate.yml"

// demoSetup is what the demo's config points at.
type demoSetup struct {
	Dir           string
	Listen        string // host:port the server listens on
	PublicURL     string
	Fakes         *demoFakes
	Targets       *demoTargets
	SigningSecret string // Slack's, shared with the demo's signer
}

// writeDemoConfig writes the audit key, the GitHub App key and tollgate.yml
// into s.Dir and loads the file with config.Load, as `tollgate serve`
// does. It returns the config and the path of the file.
func writeDemoConfig(s demoSetup) (*config.Config, []config.Warning, string, error) {
	keys := filepath.Join(s.Dir, "keys")
	if err := os.MkdirAll(keys, 0o700); err != nil {
		return nil, nil, "", fmt.Errorf("demo keys: %w", err)
	}
	if _, err := audit.GenerateKeyFiles(filepath.Join(keys, "audit-signing.key"), filepath.Join(keys, "audit-signing.pub"), "tollgate-demo"); err != nil {
		return nil, nil, "", err
	}
	if _, err := attest.GenerateKeyFiles(filepath.Join(keys, demoAttestKey), filepath.Join(keys, demoAttestPub), "tollgate-demo-attestation"); err != nil {
		return nil, nil, "", err
	}
	if err := os.WriteFile(filepath.Join(keys, "github-app.pem"), s.Fakes.gh.AppPrivateKeyPEM(), 0o600); err != nil {
		return nil, nil, "", fmt.Errorf("writing the GitHub App key: %w", err)
	}
	path := filepath.Join(s.Dir, demoConfigName)
	if err := os.WriteFile(path, []byte(demoConfigYAML(s)), 0o600); err != nil {
		return nil, nil, "", fmt.Errorf("writing %s: %w", path, err)
	}
	cfg, warnings, err := config.Load(path)
	if err != nil {
		return nil, nil, "", fmt.Errorf("the demo's own config does not load: %w", err)
	}
	return cfg, warnings, path, nil
}

// demoConfigYAML renders tollgate.yml. Paths are relative to the file, so
// the data directory can be moved and still verified.
func demoConfigYAML(s demoSetup) string {
	gh, sl := s.Fakes.gh, s.Fakes.slack
	clientID, clientSecret := gh.AppOAuthClient()
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	w("# Written by `tollgate demo`. GitHub and Slack are fakes running inside the demo")
	w("# process; secrets are written here literally because they are throwaway values")
	w("# (a real tollgate.yml reads them from ${VAR}). Reference: docs/config.md.")
	w("listen: %q", s.Listen)
	w("public_url: %s", s.PublicURL)
	w("database: tollgate.db")
	w("")
	w("audit:")
	w("  signing_key_file: keys/audit-signing.key")
	w("  public_key_file: keys/audit-signing.pub")
	w("  checkpoint_every: 10          # sign often, so the demo's short log has checkpoints")
	w("")
	w("attestation:")
	w("  signing_key_file: keys/%s  # signs every release that goes live", demoAttestKey)
	w("")
	w("github:")
	w("  api_url: %s/", gh.APIURL())
	w("  web_url: %s/", gh.URL())
	w("  app_id: %d", gh.AppID())
	w("  private_key_file: keys/github-app.pem")
	w("  webhook_secret: %q", gh.WebhookSecret())
	w("  oauth_client_id: %q", clientID)
	w("  oauth_client_secret: %q", clientSecret)
	w("  org: %s", demoOrg)
	w("")
	w("slack:")
	w("  api_url: %s", sl.APIURL())
	w("  response_url_base: %s", sl.ResponseURLBase())
	w("  web_url: %s", sl.WebURL())
	w("  bot_token: %q", sl.BotToken())
	w("  client_id: %q               # Sign in with Slack: /deploy link proves the Slack user", sl.ClientID())
	w("  client_secret: %q", sl.ClientSecret())
	w("  signing_secret: %q", s.SigningSecret)
	w("  channel: %s", demoChannel)
	w("  channels:")
	w("    %s: %s", demoChannel, demoRepo)
	w("")
	w("teams:")
	w("  admins: [platform-admins]")
	w("")
	w("repositories:")
	w("  %s:", demoRepo)
	w("    environments:")
	w("      staging:")
	w("        deployers: [backend]")
	w("        branches: [main]")
	w("        auto_deploy:")
	w("          on_merge_to: [main]      # every merge to main deploys to staging")
	w("        require:")
	w("          checks: true")
	writeDemoTarget(w, s.Dir, s.Targets.Staging, "http://staging.shop.example")
	w("      production:")
	w("        production: true")
	w("        deployers: [backend]")
	w("        approvers: [backend-leads]")
	w("        required_approvals: 1      # someone other than the requester and the PR author")
	w("        approval_ttl: 1h")
	w("        branches: [main]")
	w("        require:")
	w("          pr_review: true")
	w("          checks: [build, test]")
	w("        emergency:")
	w("          teams: [oncall]")
	w("          review_within: 24h")
	w("        max_parallel: 2")
	writeDemoTarget(w, s.Dir, s.Targets.Production, "http://shop.example")
	return b.String()
}

func writeDemoTarget(w func(string, ...any), dir string, e demoEnvTarget, envURL string) {
	rel := func(p string) string {
		if r, err := filepath.Rel(dir, p); err == nil {
			return filepath.ToSlash(r)
		}
		return p
	}
	w("        servers:")
	for _, s := range e.Servers {
		w("          - host: %s        # %s, an in-process SSH server", s.Host, s.Name)
		w("            port: %d", s.Port)
		w("            user: deploy")
		w("            path: %s", s.Root)
	}
	w("        ssh:                       # this environment's own key and pinned host keys")
	w("          private_key_file: %s", rel(e.KeyFile))
	w("          known_hosts_file: %s", rel(e.KnownHostsFile))
	// No environment path: every server has its own, as these share one disk.
	w("        keep_releases: 5")
	w("        health_check:")
	w("          command: ./bin/healthcheck")
	w("          timeout: 5s")
	w("          retries: 1")
	w("          interval: 500ms")
	w("        environment_url: %s", envURL)
}

// randomSecret returns a throwaway secret for the demo.
func randomSecret() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
