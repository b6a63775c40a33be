package config

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/config/configtest"
)

func mustParse(t *testing.T, name, yaml string, lookup func(string) (string, bool)) (*Config, []Warning) {
	t.Helper()
	cfg, warnings, err := Parse(name, []byte(yaml), lookup)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return cfg, warnings
}

func TestParseAppliesDefaults(t *testing.T) {
	cfg, warnings := mustParse(t, "/etc/tollgate/tollgate.yml", baseConfig, testEnv)
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", cfg.Listen, ":8080"},
		{"public_url", cfg.PublicURL, "https://tollgate.example.com"},
		{"database", cfg.Database, "/var/lib/tollgate/tollgate.db"},
		{"audit.checkpoint_every", cfg.Audit.CheckpointEvery, 100},
		{"audit.retention_days", cfg.Audit.RetentionDays, 365},
		{"github.api_url", cfg.GitHub.APIURL, "https://api.github.com/"},
		{"github.web_url", cfg.GitHub.WebURL, "https://github.com/"},
		{"github.app_id", cfg.GitHub.AppID, int64(1)},
		{"github.webhook_secret", cfg.GitHub.WebhookSecret.Value(), "s3cret-webhook"},
		{"github.org", cfg.GitHub.Org, "acme"},
		{"slack.enabled", cfg.Slack.Enabled, false},
		{"access_review.interval", cfg.AccessReview.Interval, 90 * 24 * time.Hour},
		{"locks.remind_after", cfg.Locks.RemindAfter, 24 * time.Hour},
		{"drift.interval", cfg.Drift.Interval, time.Hour},
	}
	env, ok := cfg.Environment("acme/api", "staging")
	if !ok {
		t.Fatal("Environment(acme/api, staging) not found")
	}
	checks = append(checks, []struct {
		name      string
		got, want any
	}{
		{"env.repository", env.Repository, "acme/api"},
		{"env.approval_ttl", env.ApprovalTTL, time.Hour},
		{"env.branches", env.Branches, []string{"main"}},
		{"env.labels", env.Labels, []string{"deploy:staging"}},
		{"env.servers", env.Servers, []Server{{Host: "s1.example.com", Port: 22, User: "deploy", Path: "/srv/api"}}},
		{"env.keep_releases", env.KeepReleases, 5},
		{"env.max_parallel", env.MaxParallel, 10},
		{"env.emergency.review_within", env.Emergency.ReviewWithin, 24 * time.Hour},
		{"env.health_check", env.HealthCheck, (*HealthCheck)(nil)},
		{"env.ticket_pattern", env.TicketPattern == nil, true},
	}...)
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
}

func TestParseResolvesRelativePathsAgainstConfigDir(t *testing.T) {
	yaml := strings.NewReplacer(
		"/var/lib/tollgate/tollgate.db", "state/tollgate.db",
		"/etc/tollgate/staging.key", "keys/staging",
	).Replace(baseConfig)
	cfg, _ := mustParse(t, "/etc/tollgate/tollgate.yml", yaml, testEnv)
	if cfg.Database != "/etc/tollgate/state/tollgate.db" {
		t.Errorf("database = %q", cfg.Database)
	}
	env, _ := cfg.Environment("acme/api", "staging")
	if env.SSH.PrivateKeyFile != "/etc/tollgate/keys/staging" {
		t.Errorf("ssh.private_key_file = %q", env.SSH.PrivateKeyFile)
	}
	if env.Path != "/srv/api" {
		t.Errorf("remote path = %q, want it left as written", env.Path)
	}
}

func TestParseExpandsVariablesInValuesOnly(t *testing.T) {
	yaml := strings.NewReplacer(
		"app_id: 1", "app_id: ${APP_ID}",
		"org: acme", "org: ${ORG:-acme}",
		"path: /srv/api", "path: /srv/$${literal}/${APP_DIR:-api}",
		"public_url: https://tollgate.example.com", "public_url: https://$HOST/${UNSET_OK:-x}",
	).Replace(baseConfig)
	cfg, _ := mustParse(t, "tollgate.yml", yaml, env(map[string]string{"WEBHOOK_SECRET": "w", "APP_ID": "4242", "ORG": ""}))
	if cfg.GitHub.AppID != 4242 {
		t.Errorf("app_id = %d, want 4242 from APP_ID", cfg.GitHub.AppID)
	}
	if cfg.GitHub.Org != "acme" {
		t.Errorf("org = %q, want the default for an empty ORG", cfg.GitHub.Org)
	}
	e, _ := cfg.Environment("acme/api", "staging")
	if e.Path != "/srv/${literal}/api" {
		t.Errorf("path = %q, want $${ kept as a literal ${", e.Path)
	}
	if cfg.PublicURL != "https://$HOST/x" {
		t.Errorf("public_url = %q, want a bare $ left alone", cfg.PublicURL)
	}
	// Keys are never expanded: a ${...} key is an unknown key.
	bad := strings.Replace(baseConfig, "  org: acme", "  ${KEY}: acme", 1)
	_, _, err := Parse("tollgate.yml", []byte(bad), env(map[string]string{"WEBHOOK_SECRET": "w", "KEY": "org"}))
	if err == nil || !strings.Contains(err.Error(), "github.${KEY}: unknown key") {
		t.Errorf("a variable in a key: err = %v, want unknown key", err)
	}
}

func TestParseWarnsAboutSecretsWrittenInTheFile(t *testing.T) {
	yaml := strings.Replace(baseConfig, "${WEBHOOK_SECRET}", "hunter2hunter2", 1)
	_, warnings := mustParse(t, "tollgate.yml", yaml, nil)
	want := "tollgate.yml:8: warning: github.webhook_secret: secret written in the config file; use ${VAR} so it stays out of the file"
	if len(warnings) != 1 || warnings[0].String() != want {
		t.Errorf("warnings = %v, want [%s]", warnings, want)
	}
}

func TestParseWarnsAboutProductionWithoutApprovals(t *testing.T) {
	_, warnings := mustParse(t, "tollgate.yml", production(withTargets("production: true", "deployers: [backend]")...), testEnv)
	want := "tollgate.yml:22: warning: repositories.acme/api.environments.production.required_approvals: production environment deploys without any approval; set required_approvals and approvers"
	if len(warnings) != 1 || warnings[0].String() != want {
		t.Errorf("warnings = %v, want [%s]", warnings, want)
	}
}

// A misspelt or invalid required_approvals is an error; the 0 it leaves
// behind does not also warn "deploys without any approval". Fails before
// this change: both were printed.
func TestParseDoesNotWarnAboutApprovalsItCouldNotRead(t *testing.T) {
	for _, line := range []string{"required_aprovals: 1", "required_approvals: two", "required_approvals: -1"} {
		_, warnings, err := Parse("tollgate.yml", []byte(production(withTargets("production: true", "deployers: [backend]", "approvers: [leads]", line)...)), testEnv)
		var verr *ValidationError
		if !errors.As(err, &verr) || !strings.Contains(err.Error(), "required_") {
			t.Errorf("%s: err = %v, want the problem reported", line, err)
		}
		for _, w := range warnings {
			if strings.Contains(w.Message, "without any approval") {
				t.Errorf("%s: also warned %q", line, w)
			}
		}
	}
}

// An unset variable behind a secret gets no "${VAR:-default}" suggestion:
// a secret has no default written in the file.
func TestUnsetSecretVariableProposesNoDefault(t *testing.T) {
	_, _, err := Parse("tollgate.yml", []byte(baseConfig), env(nil))
	if err == nil || strings.Contains(err.Error(), ":-") || !strings.Contains(err.Error(), "environment variable WEBHOOK_SECRET is not set: set it in the environment") {
		t.Fatalf("err = %v", err)
	}
	// A value that is not a secret still gets the suggestion.
	_, _, err = Parse("tollgate.yml", []byte(strings.Replace(baseConfig, "  org: acme", "  org: ${ORG}", 1)), testEnv)
	if err == nil || !strings.Contains(err.Error(), "write ${ORG:-default}") {
		t.Fatalf("err = %v", err)
	}
}

func TestReportSortsErrorsAndWarningsByLineAndMarksThem(t *testing.T) {
	got := Report(
		[]Problem{{File: "t.yml", Line: 9, Key: "b", Message: "bad"}, {File: "t.yml", Line: 3, Key: "a", Message: "worse"}},
		[]Warning{{File: "t.yml", Line: 5, Key: "w", Message: "hmm"}, {File: "t.yml", Line: 3, Key: "v", Message: "meh"}})
	want := []string{"t.yml:3: error: a: worse", "t.yml:3: warning: v: meh", "t.yml:5: warning: w: hmm", "t.yml:9: error: b: bad"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Report = %q, want %q", got, want)
	}
}

func TestHashIsSHA256OfFileBytes(t *testing.T) {
	cfg, _ := mustParse(t, "tollgate.yml", baseConfig, testEnv)
	sum := sha256.Sum256([]byte(baseConfig))
	if cfg.Hash() != hex.EncodeToString(sum[:]) {
		t.Errorf("Hash() = %s, want sha256 of the file", cfg.Hash())
	}
}

func TestExampleConfigLoads(t *testing.T) {
	path := filepath.Join("..", "testdata", "tollgate.example.yml")
	// The example must load with no variables set: Parse with an empty
	// environment, as on a fresh machine.
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Parse(path, data, nil); err != nil {
		t.Fatalf("example does not parse without env vars:\n%v", err)
	}
	// As an install holds it (keys 0600), the example loads without a
	// single warning, whatever modes the clone gave testdata/.
	cfg, warnings, err := Load(configtest.ExampleCopy(t))
	if err != nil {
		t.Fatalf("Load(example):\n%v", err)
	}
	for _, w := range warnings {
		t.Errorf("warning: %s", w)
	}
	if got := cfg.RepositoryNames(); !reflect.DeepEqual(got, []string{"acme/api", "acme/web"}) {
		t.Errorf("RepositoryNames() = %v", got)
	}
	if got := cfg.Repositories["acme/api"].EnvironmentNames(); !reflect.DeepEqual(got, []string{"production", "staging"}) {
		t.Errorf("acme/api environments = %v", got)
	}
	if repo, ok := cfg.RepoForChannel("C0WEBTEAM01"); !ok || repo != "acme/web" {
		t.Errorf("RepoForChannel(C0WEBTEAM01) = %q, %v", repo, ok)
	}
	if _, ok := cfg.RepoForChannel("C0NOTMAPPED"); ok {
		t.Error("RepoForChannel of an unmapped channel reported a repository")
	}
	prod, _ := cfg.Environment("acme/api", "production")
	if len(prod.Servers) != 2 || prod.Servers[1].Port != 2222 {
		t.Errorf("production servers = %+v", prod.Servers)
	}
	if !prod.RequireTicket || !prod.TicketPattern.MatchString("fixes INC-42") {
		t.Errorf("ticket rule: require=%v pattern=%v", prod.RequireTicket, prod.TicketPattern)
	}
	if !reflect.DeepEqual(prod.Require.CheckNames, []string{"build", "test", "security/scan"}) {
		t.Errorf("required checks = %v", prod.Require.CheckNames)
	}
	if wk := prod.Freezes[1].Window.Weekly; len(prod.Freezes) != 2 || wk == nil || wk.Location.String() != "Europe/Berlin" ||
		wk.StartDay != time.Friday || wk.StartTime != 18*time.Hour || wk.EndDay != time.Monday || wk.EndTime != 8*time.Hour {
		t.Errorf("freezes = %+v", prod.Freezes)
	}
	if got := prod.SecretValues(); len(got) != 1 || !strings.HasPrefix(got[0], "postgres://") {
		t.Errorf("secrets = %v", got)
	}
	web, _ := cfg.Environment("acme/web", "production")
	if !web.GateOnly || len(web.Servers) != 0 || web.RequiredApprovals != 2 {
		t.Errorf("acme/web production = %+v", web)
	}
	staging, _ := cfg.Environment("acme/api", "staging")
	if !staging.DeploysOnMergeTo("main") || staging.DeploysOnMergeTo("develop") {
		t.Errorf("staging on_merge_to = %v", staging.AutoDeploy.OnMergeTo)
	}
	if !staging.BranchAllowed("release/2.1") || staging.BranchAllowed("feature/x") {
		t.Errorf("staging branches %v: release/2.1 must match, feature/x must not", staging.Branches)
	}
	if !staging.HasLabel("deploy:staging") {
		t.Errorf("staging labels = %v", staging.Labels)
	}
}

func TestWriteSummaryNamesWhoMayDeploy(t *testing.T) {
	cfg, _, err := Load(filepath.Join("..", "testdata", "tollgate.example.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := cfg.WriteSummary(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"deploy@web-1.example.com:22, deploy@web-2.example.com:2222 → /srv/api",
		"approvers:  backend-leads, platform (1 required, valid 1h)",
		"requires:   PR review; checks build, test, security/scan; ticket matching (OPS|INC)-[0-9]+",
		"emergency:  oncall (review within 1d, ticket required)",
		`weekend: weekly fri 18:00 - mon 08:00 Europe/Berlin`,
		"production  [production, gate only: GitHub Actions deploys]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, secret := range []string{"example-webhook-secret", "xoxb-example-token", "example-password"} {
		if strings.Contains(out, secret) {
			t.Errorf("summary discloses secret %q", secret)
		}
	}
}

func TestParsePerServerPath(t *testing.T) {
	servers := func(lines ...string) []string {
		return append(append([]string{"deployers: [backend]", "servers:"}, lines...),
			"ssh:", "  private_key_file: /etc/tollgate/production.key", "  known_hosts_file: /etc/tollgate/known_hosts")
	}
	tests := []struct {
		name     string
		body     []string
		wantPath string
		want     []Server
		summary  string
	}{
		{"servers default to the environment's path",
			append(servers("  - host: p1.example.com", "    user: deploy", "  - host: p2.example.com", "    user: deploy"), "path: /srv/api"),
			"/srv/api",
			[]Server{{Host: "p1.example.com", Port: 22, User: "deploy", Path: "/srv/api"}, {Host: "p2.example.com", Port: 22, User: "deploy", Path: "/srv/api"}},
			"deploy@p1.example.com:22, deploy@p2.example.com:22 → /srv/api (keep 5 releases"},
		{"one server overrides the environment's path",
			append(servers("  - host: p1.example.com", "    user: deploy", "  - host: p2.example.com", "    user: deploy", "    path: /opt/api"), "path: /srv/api"),
			"/srv/api",
			[]Server{{Host: "p1.example.com", Port: 22, User: "deploy", Path: "/srv/api"}, {Host: "p2.example.com", Port: 22, User: "deploy", Path: "/opt/api"}},
			"deploy@p1.example.com:22 → /srv/api, deploy@p2.example.com:22 → /opt/api (keep 5 releases"},
		{"every server has its own path, the environment none",
			servers("  - host: box.example.com", "    user: deploy", "    path: /srv/api-1", "  - host: box.example.com", "    port: 2222", "    user: deploy", "    path: /srv/api-2"),
			"",
			[]Server{{Host: "box.example.com", Port: 22, User: "deploy", Path: "/srv/api-1"}, {Host: "box.example.com", Port: 2222, User: "deploy", Path: "/srv/api-2"}},
			"deploy@box.example.com:22 → /srv/api-1, deploy@box.example.com:2222 → /srv/api-2 (keep 5 releases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, _ := mustParse(t, "tollgate.yml", production(tt.body...), testEnv)
			env, ok := cfg.Environment("acme/api", "production")
			if !ok {
				t.Fatal("production not found")
			}
			if env.Path != tt.wantPath || !reflect.DeepEqual(env.Servers, tt.want) {
				t.Errorf("path %q, servers %+v; want %q, %+v", env.Path, env.Servers, tt.wantPath, tt.want)
			}
			var b strings.Builder
			if err := cfg.WriteSummary(&b); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(b.String(), tt.summary) {
				t.Errorf("summary lacks %q:\n%s", tt.summary, b.String())
			}
		})
	}
}
