package config

import (
	"errors"
	"strings"
	"testing"
)

// baseConfig is a minimal valid config; its line numbers are relied on by
// the cases below (production, when appended, starts on line 22).
const baseConfig = `public_url: https://tollgate.example.com
database: /var/lib/tollgate/tollgate.db
audit:
  signing_key_file: /etc/tollgate/audit.key
github:
  app_id: 1
  private_key_file: /etc/tollgate/app.pem
  webhook_secret: ${WEBHOOK_SECRET}
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
          private_key_file: /etc/tollgate/staging.key
          known_hosts_file: /etc/tollgate/known_hosts
        path: /srv/api
`

// production appends a production environment (from line 22) whose body
// lines are indented for it.
func production(body ...string) string {
	return baseConfig + "      production:\n" + "        " + strings.Join(body, "\n        ") + "\n"
}

// prodTargets are valid servers, ssh and path lines for production.
var prodTargets = []string{
	"servers:",
	"  - host: p1.example.com",
	"    user: deploy",
	"ssh:",
	"  private_key_file: /etc/tollgate/production.key",
	"  known_hosts_file: /etc/tollgate/known_hosts",
	"path: /srv/api",
}

func withTargets(body ...string) []string { return append(body, prodTargets...) }

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

var testEnv = env(map[string]string{"WEBHOOK_SECRET": "s3cret-webhook"})

func TestParseRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  func(string) (string, bool)
		want []string
	}{
		{
			name: "misspelt environment key suggests the right one",
			yaml: production(withTargets("deployer: [backend]")...),
			want: []string{
				"tollgate.yml:22: repositories.acme/api.environments.production.deployers: required key is missing",
				`tollgate.yml:23: repositories.acme/api.environments.production.deployer: unknown key (did you mean "deployers"?)`,
			},
		},
		{
			name: "misspelt top-level key",
			yaml: strings.Replace(baseConfig, "repositories:", "repositores:", 1),
			want: []string{
				"tollgate.yml:1: repositories: required key is missing",
				`tollgate.yml:10: repositores: unknown key (did you mean "repositories"?)`,
			},
		},
		{
			name: "unknown key far from any known one lists the known keys",
			yaml: strings.Replace(baseConfig, "  org: acme", "  org: acme\n  colour: blue", 1),
			want: []string{
				"tollgate.yml:10: github.colour: unknown key (known keys: api_url, app_id, oauth_client_id, oauth_client_secret, org, private_key, private_key_file, web_url, webhook_secret)",
			},
		},
		{
			name: "integer given as a word",
			yaml: production(withTargets("deployers: [backend]", "approvers: [leads]", "required_approvals: two")...),
			want: []string{`tollgate.yml:25: repositories.acme/api.environments.production.required_approvals: expected an integer, got "two"`},
		},
		{
			name: "list given as a string",
			yaml: production(withTargets("deployers: backend")...),
			want: []string{"tollgate.yml:23: repositories.acme/api.environments.production.deployers: expected a list, got the string \"backend\" (write [backend] for a list of one)"},
		},
		{
			name: "boolean given as yes",
			yaml: production(withTargets("deployers: [backend]", "production: yes")...),
			want: []string{`tollgate.yml:24: repositories.acme/api.environments.production.production: expected true or false, got "yes"`},
		},
		{
			name: "missing required github org",
			yaml: strings.Replace(baseConfig, "  org: acme\n", "", 1),
			want: []string{"tollgate.yml:5: github.org: required key is missing"},
		},
		{
			name: "public_url not http",
			yaml: strings.Replace(baseConfig, "https://tollgate.example.com", "ftp://tollgate.example.com", 1),
			want: []string{`tollgate.yml:1: public_url: invalid URL "ftp://tollgate.example.com": want an absolute http:// or https:// URL`},
		},
		{
			name: "invalid ticket regexp",
			yaml: production(withTargets("deployers: [backend]", "require_ticket:", `  pattern: "([A-Z]+-[0-9]+"`)...),
			want: []string{`tollgate.yml:25: repositories.acme/api.environments.production.require_ticket.pattern: invalid regular expression "([A-Z]+-[0-9]+": missing closing ): ` + "`([A-Z]+-[0-9]+`"},
		},
		{
			name: "unknown time zone",
			yaml: production(withTargets("deployers: [backend]", "freeze:", "  - name: weekend", `    weekly: fri 18:00 - mon 08:00`, "    timezone: Mars/Olympus")...),
			want: []string{`tollgate.yml:27: repositories.acme/api.environments.production.freeze[0].timezone: unknown time zone "Mars/Olympus" (use an IANA name such as Europe/Berlin)`},
		},
		{
			name: "weekly hour out of range",
			yaml: production(withTargets("deployers: [backend]", "freeze:", "  - name: nightly", `    weekly: mon 25:00 - tue 02:00`)...),
			want: []string{`tollgate.yml:26: repositories.acme/api.environments.production.freeze[0].weekly: "mon 25:00 - tue 02:00": start: invalid time "25:00" (use 24-hour HH:MM, 00:00 to 23:59)`},
		},
		{
			name: "weekly unknown day",
			yaml: production(withTargets("deployers: [backend]", "freeze:", "  - name: never", `    weekly: fri 18:00 - smonday 08:00`)...),
			want: []string{`tollgate.yml:26: repositories.acme/api.environments.production.freeze[0].weekly: "fri 18:00 - smonday 08:00": end: unknown day "smonday" (use mon, tue, wed, thu, fri, sat or sun)`},
		},
		{
			name: "weekly without a dash",
			yaml: production(withTargets("deployers: [backend]", "freeze:", "  - name: w", `    weekly: fri 18:00 mon 08:00`)...),
			want: []string{`tollgate.yml:26: repositories.acme/api.environments.production.freeze[0].weekly: "fri 18:00 mon 08:00": want "<day> <HH:MM> - <day> <HH:MM>", e.g. "fri 18:00 - mon 08:00"`},
		},
		{
			name: "cron freeze names its replacement",
			yaml: production(withTargets("deployers: [backend]", "freeze:", "  - name: weekend", `    cron: "0 18 * * fri"`, "    duration: 62h")...),
			want: []string{`tollgate.yml:26: repositories.acme/api.environments.production.freeze[0]: cron freeze windows were replaced by weekly windows: write the start and end, e.g. weekly: "fri 18:00 - mon 08:00" with timezone: Europe/Berlin (docs/config.md, Freeze windows)`},
		},
		{
			name: "negative keep_releases",
			yaml: production(withTargets("deployers: [backend]", "keep_releases: -1")...),
			want: []string{"tollgate.yml:24: repositories.acme/api.environments.production.keep_releases: must be between 2 and 1000 (the current release and one to roll back to), got -1"},
		},
		{
			name: "approvals required without approvers",
			yaml: production(withTargets("deployers: [backend]", "required_approvals: 2")...),
			want: []string{"tollgate.yml:24: repositories.acme/api.environments.production.required_approvals: 2 approvals required but no approvers teams are listed"},
		},
		{
			name: "relative deploy path",
			yaml: strings.Replace(baseConfig, "path: /srv/api", "path: srv/api", 1),
			want: []string{`tollgate.yml:21: repositories.acme/api.environments.staging.path: path "srv/api" must be absolute`},
		},
		{
			name: "duplicate server",
			yaml: strings.Replace(baseConfig, "            user: deploy\n", "            user: deploy\n          - host: S1.example.com\n            user: root\n", 1),
			want: []string{"tollgate.yml:18: repositories.acme/api.environments.staging.servers[1]: duplicate server root@S1.example.com:22 (same host and port as repositories.acme/api.environments.staging.servers[0])"},
		},
		{
			name: "relative server path",
			yaml: strings.Replace(baseConfig, "            user: deploy\n", "            user: deploy\n            path: srv/api-1\n", 1),
			want: []string{`tollgate.yml:18: repositories.acme/api.environments.staging.servers[0].path: path "srv/api-1" must be absolute`},
		},
		{
			name: "unclean server path",
			yaml: strings.Replace(baseConfig, "            user: deploy\n", "            user: deploy\n            path: /srv/api-1/../api-2/\n", 1),
			want: []string{`tollgate.yml:18: repositories.acme/api.environments.staging.servers[0].path: path "/srv/api-1/../api-2/" is not clean (did you mean "/srv/api-2"?)`},
		},
		{
			name: "server path at the root",
			yaml: strings.Replace(baseConfig, "            user: deploy\n", "            user: deploy\n            path: /\n", 1),
			want: []string{"tollgate.yml:18: repositories.acme/api.environments.staging.servers[0].path: path must not be the root directory"},
		},
		{
			name: "server path that is not a string",
			yaml: strings.Replace(baseConfig, "            user: deploy\n", "            user: deploy\n            path: [/srv/a]\n", 1),
			want: []string{"tollgate.yml:18: repositories.acme/api.environments.staging.servers[0].path: expected a string, got a list"},
		},
		{
			name: "misspelt server path",
			yaml: strings.Replace(baseConfig, "            user: deploy\n", "            user: deploy\n            paht: /srv/api-1\n", 1),
			want: []string{`tollgate.yml:18: repositories.acme/api.environments.staging.servers[0].paht: unknown key (did you mean "path"?)`},
		},
		{
			name: "no environment path and a server without its own",
			yaml: production("deployers: [backend]", "servers:", "  - host: p1.example.com", "    user: deploy", "    path: /srv/api-1",
				"  - host: p2.example.com", "    user: deploy", "ssh:", "  private_key_file: /etc/tollgate/production.key",
				"  known_hosts_file: /etc/tollgate/known_hosts"),
			want: []string{"tollgate.yml:22: repositories.acme/api.environments.production.path: required key is missing: the absolute directory to deploy into (or a path on every server)"},
		},
		{
			name: "ssh key shared by staging and production",
			yaml: production("deployers: [backend]", "servers:", "  - host: p1.example.com", "    user: deploy", "ssh:",
				"  private_key_file: /etc/tollgate/staging.key", "  known_hosts_file: /etc/tollgate/known_hosts", "path: /srv/api"),
			want: []string{`tollgate.yml:28: repositories.acme/api.environments.production.ssh.private_key_file: SSH key file "/etc/tollgate/staging.key" is also used by acme/api/staging (line 19); each environment needs its own key`},
		},
		{
			name: "unset environment variable",
			yaml: baseConfig,
			env:  env(nil),
			want: []string{"tollgate.yml:8: github.webhook_secret: environment variable WEBHOOK_SECRET is not set (set it, or write ${WEBHOOK_SECRET:-default})"},
		},
		{
			name: "invalid variable name",
			yaml: strings.Replace(baseConfig, "${WEBHOOK_SECRET}", "${WEBHOOK-SECRET}", 1),
			want: []string{`tollgate.yml:8: github.webhook_secret: invalid variable name "WEBHOOK-SECRET" in ${WEBHOOK-SECRET} (write $${ for a literal ${)`},
		},
		{
			name: "retention shorter than an audit period",
			yaml: strings.Replace(baseConfig, "  signing_key_file: /etc/tollgate/audit.key", "  signing_key_file: /etc/tollgate/audit.key\n  retention_days: 90", 1),
			want: []string{"tollgate.yml:5: audit.retention_days: 90 is less than 365: audit periods are 12 months, so the log must be kept at least 365 days"},
		},
		{
			name: "previous public key files given as one path, not a list",
			yaml: strings.Replace(baseConfig, "  signing_key_file: /etc/tollgate/audit.key", "  signing_key_file: /etc/tollgate/audit.key\n  previous_public_key_files: /etc/tollgate/audit-2025.pub", 1),
			want: []string{"tollgate.yml:5: audit.previous_public_key_files: expected a list, got the string \"/etc/tollgate/audit-2025.pub\" (write [/etc/tollgate/audit-2025.pub] for a list of one)"},
		},
		{
			name: "github private key given twice",
			yaml: strings.Replace(baseConfig, "  private_key_file: /etc/tollgate/app.pem", "  private_key_file: /etc/tollgate/app.pem\n  private_key: ${GITHUB_KEY:-x}", 1),
			want: []string{"tollgate.yml:7: github.private_key_file: set either private_key or private_key_file, not both"},
		},
		{
			name: "freeze that ends before it starts",
			yaml: production(withTargets("deployers: [backend]", "freeze:", "  - name: launch", "    from: 2026-03-02T00:00:00Z", "    to: 2026-03-01T00:00:00Z")...),
			want: []string{"tollgate.yml:27: repositories.acme/api.environments.production.freeze[0].to: window ends (2026-03-01T00:00:00Z) before it starts (2026-03-02T00:00:00Z)"},
		},
		{
			name: "slack channel mapped to an unknown repository",
			yaml: strings.Replace(baseConfig, "repositories:", "slack:\n  bot_token: ${SLACK_TOKEN:-x}\n  channel: C0DEPLOYS\n  channels:\n    C0API: acme/apj\nrepositories:", 1),
			want: []string{
				"tollgate.yml:10: github.oauth_client_id: required when slack is configured: Slack users link their GitHub identity through the App's OAuth flow",
				"tollgate.yml:10: slack.signing_secret: required key is missing",
				`tollgate.yml:14: slack.channels.C0API: repository "acme/apj" is not configured under repositories (did you mean "acme/api"?)`,
			},
		},
		{
			name: "slack channel given by name",
			yaml: strings.Replace(strings.Replace(baseConfig, "  org: acme", "  org: acme\n  oauth_client_id: Iv1.x\n  oauth_client_secret: ${O:-z}", 1),
				"repositories:", "slack:\n  bot_token: ${T:-x}\n  signing_secret: ${S:-y}\n  channel: C0DEPLOYS\n  channels:\n    \"#api\": acme/api\nrepositories:", 1),
			want: []string{`tollgate.yml:17: slack.channels.#api: "#api" is not a channel ID (slash commands report IDs such as C0123456789; copy it from the channel's details)`},
		},
		{
			name: "duplicate key",
			yaml: strings.Replace(baseConfig, "  app_id: 1\n", "  app_id: 1\n  app_id: 2\n", 1),
			want: []string{"tollgate.yml:7: github.app_id: duplicate key (first on line 6)"},
		},
		{
			name: "environment without servers that is not gate-only",
			yaml: production("deployers: [backend]"),
			want: []string{"tollgate.yml:22: repositories.acme/api.environments.production.servers: required key is missing (or set type: actions_gate for an environment GitHub Actions deploys)"},
		},
		{
			name: "gate-only environment with servers",
			yaml: production(withTargets("deployers: [backend]", "gate_only: true")...),
			want: []string{
				"tollgate.yml:25: repositories.acme/api.environments.production.servers: not allowed with gate_only: true (GitHub Actions deploys this environment)",
				"tollgate.yml:28: repositories.acme/api.environments.production.ssh: not allowed with gate_only: true (GitHub Actions deploys this environment)",
				"tollgate.yml:31: repositories.acme/api.environments.production.path: not allowed with gate_only: true (GitHub Actions deploys this environment)",
			},
		},
		{
			name: "type actions_gate with servers",
			yaml: production(withTargets("deployers: [backend]", "type: actions_gate")...),
			want: []string{
				"tollgate.yml:25: repositories.acme/api.environments.production.servers: not allowed with type: actions_gate (GitHub Actions deploys this environment)",
				"tollgate.yml:28: repositories.acme/api.environments.production.ssh: not allowed with type: actions_gate (GitHub Actions deploys this environment)",
				"tollgate.yml:31: repositories.acme/api.environments.production.path: not allowed with type: actions_gate (GitHub Actions deploys this environment)",
			},
		},
		{
			name: "unknown target type",
			yaml: production(withTargets("deployers: [backend]", "type: actions-gate")...),
			want: []string{`tollgate.yml:24: repositories.acme/api.environments.production.type: unknown target type "actions-gate" (did you mean "actions_gate"?)`},
		},
		{
			name: "type contradicting gate_only",
			yaml: production("deployers: [backend]", "type: ssh", "gate_only: true"),
			want: []string{`tollgate.yml:24: repositories.acme/api.environments.production.type: type ssh contradicts gate_only: true (which means type: actions_gate)`},
		},
		{
			name: "auto-deploy branch not allowed",
			yaml: production(withTargets("deployers: [backend]", "auto_deploy:", "  on_merge_to: [develop]")...),
			want: []string{"tollgate.yml:25: repositories.acme/api.environments.production.auto_deploy.on_merge_to[0]: branch \"develop\" is not allowed by branches [main], so its merges could never deploy"},
		},
		{
			name: "duration without unit",
			yaml: production(withTargets("deployers: [backend]", "approval_ttl: 1 hour")...),
			want: []string{`tollgate.yml:24: repositories.acme/api.environments.production.approval_ttl: invalid duration "1 hour" (use e.g. 90d, 24h, 1h30m)`},
		},
		{
			name: "team name instead of slug",
			yaml: production(withTargets("deployers: [Backend Team]")...),
			want: []string{`tollgate.yml:23: repositories.acme/api.environments.production.deployers[0]: invalid team slug "Backend Team" (slugs are lowercase letters, digits, '-', '_' and '.', as in the team's URL)`},
		},
		{
			name: "team of another organisation",
			yaml: production(withTargets("deployers: [other/backend]")...),
			want: []string{`tollgate.yml:23: repositories.acme/api.environments.production.deployers[0]: team "other/backend" is in organisation "other", but github.org is "acme"`},
		},
		{
			name: "health check with both url and command",
			yaml: production(withTargets("deployers: [backend]", "health_check:", "  url: http://localhost/healthz", "  command: true")...),
			want: []string{"tollgate.yml:26: repositories.acme/api.environments.production.health_check.command: set either url or command, not both"},
		},
		{
			name: "empty list of required checks",
			yaml: production(withTargets("deployers: [backend]", "require:", "  checks: []")...),
			want: []string{"tollgate.yml:25: repositories.acme/api.environments.production.require.checks: empty list: write true to require every check, or list the check names"},
		},
		{
			name: "one label for two environments",
			yaml: production(withTargets("deployers: [backend]", "labels: [deploy:staging]")...),
			want: []string{`tollgate.yml:22: repositories.acme/api.environments.production.labels: label "deploy:staging" also deploys environment staging; each label deploys one environment`},
		},
		{
			name: "yaml syntax error",
			yaml: "public_url: https://x\n  database: [\n",
			want: []string{"tollgate.yml:2: yaml: mapping values are not allowed in this context"},
		},
		{
			name: "empty file",
			yaml: "# nothing yet\n",
			want: []string{"tollgate.yml:1: config file is empty"},
		},
		{
			name: "listen without port",
			yaml: "listen: 8080\n" + baseConfig,
			want: []string{`tollgate.yml:1: listen: invalid address "8080" (use host:port, e.g. ":8080")`},
		},
		{
			name: "shared path escaping the release",
			yaml: production(withTargets("deployers: [backend]", "shared: [../etc]")...),
			want: []string{`tollgate.yml:24: repositories.acme/api.environments.production.shared[0]: shared path "../etc" must be relative to the release, clean and inside it`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lookup := tc.env
			if lookup == nil {
				lookup = testEnv
			}
			cfg, _, err := Parse("tollgate.yml", []byte(tc.yaml), lookup)
			if err == nil {
				t.Fatalf("Parse accepted the config, want errors:\n%s", strings.Join(tc.want, "\n"))
			}
			if cfg != nil {
				t.Errorf("Parse returned a config along with an error")
			}
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("error is %T, want *ValidationError: %v", err, err)
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.ReplaceAll(got, "\n", "\n      "), strings.ReplaceAll(want, "\n", "\n      "))
			}
		})
	}
}
