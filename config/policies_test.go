package config_test

import (
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/config"
)

// policyYAML is a config header followed by one environment of acme/api;
// env is indented into place.
func policyYAML(env ...string) string {
	head := `public_url: https://tollgate.example.com
database: /var/lib/tollgate/tollgate.db
audit:
  signing_key_file: /etc/tollgate/audit.key
github:
  app_id: 1
  private_key_file: /etc/tollgate/app.pem
  webhook_secret: s3cret
  org: acme
teams:
  admins: [platform-admins]
repositories:
  acme/api:
    environments:
      production:
`
	var b strings.Builder
	b.WriteString(head)
	for _, l := range env {
		b.WriteString("        " + l + "\n")
	}
	b.WriteString(`        servers:
          - host: p1.example.com
            user: deploy
        ssh:
          private_key_file: /etc/tollgate/production.key
          known_hosts_file: /etc/tollgate/known_hosts
        path: /srv/api
`)
	return b.String()
}

func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, _, err := config.Parse("tollgate.yml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("config.Parse: %v", err)
	}
	return cfg
}

func TestPoliciesFromConfigConvertsEveryField(t *testing.T) {
	cfg := parseConfig(t, policyYAML(
		"production: true",
		"deployers: [backend, acme/platform]",
		"approvers: [backend-leads]",
		"required_approvals: 2",
		"approval_ttl: 30m",
		"branches: [main, stable]",
		"require:",
		"  pr_review: true",
		"  checks: [build, test]",
		"emergency:",
		"  teams: [oncall]",
		"  require_ticket: true",
		"  review_within: 48h",
		"require_ticket:",
		"  pattern: \"(OPS|INC)-[0-9]+\"",
		"auto_deploy:",
		"  on_merge_to: [stable]",
		"labels: [ship-it]",
		"freeze:",
		"  - name: year-end",
		"    from: 2025-12-22T00:00:00Z",
		"    to: 2026-01-02T09:00:00+01:00",
	))
	set := cfg.Policies()
	p, ok := set.Environment("acme/api", "production")
	if !ok {
		t.Fatal("acme/api production missing from the policy set")
	}
	if envs := set.Environments("acme/api"); !reflect.DeepEqual(envs, []string{"production"}) {
		t.Errorf("Environments = %v", envs)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"deployers", p.Deployers, []bot.Team{{Org: "acme", Slug: "backend"}, {Org: "acme", Slug: "platform"}}},
		{"approvers", p.Approvers, []bot.Team{{Org: "acme", Slug: "backend-leads"}}},
		{"emergency", p.Emergency, []bot.Team{{Org: "acme", Slug: "oncall"}}},
		{"admins", p.Admins, []bot.Team{{Org: "acme", Slug: "platform-admins"}}},
		{"required approvals", p.RequiredApprovals, 2},
		{"approval ttl", p.ApprovalTTL, 30 * time.Minute},
		{"branches", p.Branches, []string{"main", "stable"}},
		{"pr review", p.RequirePRReview, true},
		{"checks", p.RequireChecks, true},
		{"contexts", p.RequiredContexts, []string{"build", "test"}},
		{"ticket pattern", p.TicketPattern.String(), "(OPS|INC)-[0-9]+"},
		{"emergency ticket pattern", p.EmergencyTicketPattern.String(), "(OPS|INC)-[0-9]+"},
		{"emergency review within", p.EmergencyReviewWithin, 48 * time.Hour},
		{"production", p.Production, true},
		{"on merge to", p.OnMergeTo, []string{"stable"}},
		{"labels", p.Labels, []string{"ship-it"}},
		{"freeze", p.FreezeWindows, []bot.FreezeWindow{{Name: "year-end",
			Start: time.Date(2025, 12, 22, 0, 0, 0, 0, time.UTC),
			End:   time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC)}}},
	}
	for _, c := range checks {
		got, want := c.got, c.want
		if fw, ok := got.([]bot.FreezeWindow); ok && len(fw) == 1 {
			// Compare instants: the parsed time keeps its +01:00 offset.
			w := want.([]bot.FreezeWindow)[0]
			if fw[0].Name != w.Name || !fw[0].Start.Equal(w.Start) || !fw[0].End.Equal(w.End) || fw[0].Weekly != nil {
				t.Errorf("freeze = %+v, want %+v", fw[0], w)
			}
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", c.name, got, want)
		}
	}
}

func TestPoliciesFromConfigDefaults(t *testing.T) {
	p, ok := mustPolicies(t, policyYAML("deployers: [backend]")).Environment("acme/api", "production")
	if !ok {
		t.Fatal("environment missing")
	}
	if p.TicketPattern != nil || p.RequireChecks || p.RequirePRReview || len(p.FreezeWindows) != 0 ||
		p.RequiredApprovals != 0 || p.Production || len(p.Emergency) != 0 {
		t.Errorf("an environment with only deployers got requirements: %+v", p)
	}
	if p.ApprovalTTL != time.Hour || !reflect.DeepEqual(p.Branches, []string{"main"}) {
		t.Errorf("defaults: ttl %s branches %v, want 1h [main]", p.ApprovalTTL, p.Branches)
	}
}

func mustPolicies(t *testing.T, yaml string) bot.PolicySet {
	t.Helper()
	return parseConfig(t, yaml).Policies()
}

func TestPoliciesFromConfigTicketOnlyForEmergencies(t *testing.T) {
	p, _ := mustPolicies(t, policyYAML("deployers: [a]", "emergency:", "  teams: [oncall]", "  require_ticket: true")).
		Environment("acme/api", "production")
	if p.TicketPattern != nil {
		t.Errorf("every request needs a ticket (%s); only emergency changes should", p.TicketPattern)
	}
	if p.EmergencyTicketPattern == nil || p.EmergencyTicketPattern.String() != config.DefaultEmergencyTicketRE {
		t.Errorf("emergency ticket pattern %v, want the default %s", p.EmergencyTicketPattern, config.DefaultEmergencyTicketRE)
	}
	if p.EmergencyReviewWithin != config.DefaultEmergencyReview {
		t.Errorf("review within %s, want the default %s", p.EmergencyReviewWithin, config.DefaultEmergencyReview)
	}
}

// TestRoutesFromTheExampleConfig: the routing the transports ask bot for
// (merges, labels, deployment events) comes from the configuration.
func TestRoutesFromTheExampleConfig(t *testing.T) {
	cfg, _, err := config.Load(filepath.Join("..", "testdata", "tollgate.example.yml"))
	if err != nil {
		t.Fatalf("load example: %v", err)
	}
	routes := bot.Routes{Policies: cfg.Policies()}
	merges := []struct {
		repo, branch string
		want         []string
	}{
		{"acme/api", "main", []string{"staging"}},
		{"acme/api", "release", nil},
		{"acme/unknown", "main", nil},
	}
	for _, tt := range merges {
		if got := routes.ForMerge(tt.repo, tt.branch); !slices.Equal(got, tt.want) {
			t.Errorf("merge %s into %s: %v, want %v", tt.repo, tt.branch, got, tt.want)
		}
	}
	labels := []struct {
		repo, label, want string
		ok                bool
	}{
		{"acme/api", "deploy:production", "production", true},
		{"acme/api", "deploy:staging", "staging", true}, // the default label
		{"acme/web", "deploy:preview", "preview", true},
		{"acme/api", "deploy:preview", "", false}, // acme/web's label, not acme/api's
		{"acme/api", "bug", "", false},
	}
	for _, tt := range labels {
		if got, ok := routes.ForLabel(tt.repo, tt.label); got != tt.want || ok != tt.ok {
			t.Errorf("label %s on %s: %q %v, want %q %v", tt.label, tt.repo, got, ok, tt.want, tt.ok)
		}
	}
	if !routes.ForDeploymentEvent("acme/web", "preview") || routes.ForDeploymentEvent("acme/web", "staging") {
		t.Error("ForDeploymentEvent wrong")
	}
}
