package main

import (
	"reflect"
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
		"freeze:",
		"  - name: year-end",
		"    from: 2025-12-22T00:00:00Z",
		"    to: 2026-01-02T09:00:00+01:00",
	))
	set, err := policiesFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
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
	set, err := policiesFromConfig(parseConfig(t, yaml))
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestPoliciesFromConfigRefusesWhatTheDomainCannotRepresent(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		want []string // substrings of the error
	}{
		{"cron on a day of the month", []string{"deployers: [a]", "freeze:", "  - name: month-end", `    cron: "0 0 28 * *"`, "    duration: 72h"},
			[]string{"tollgate.yml:18: repositories.acme/api.environments.production.freeze[0]:", `"month-end"`, "day of month"}},
		{"cron in one month", []string{"deployers: [a]", "freeze:", "  - name: december", `    cron: "0 0 * 12 *"`, "    duration: 24h"},
			[]string{"freeze[0]", "only weekly schedules"}},
		{"window of a week", []string{"deployers: [a]", "freeze:", "  - name: always", `    cron: "0 0 * * mon"`, "    duration: 7d"},
			[]string{"freeze[0]", "shorter than a week"}},
		{"seconds in the duration", []string{"deployers: [a]", "freeze:", "  - name: odd", `    cron: "0 0 * * mon"`, "    duration: 1h30s"},
			[]string{"freeze[0]", "whole number of minutes"}},
		{"every minute", []string{"deployers: [a]", "freeze:", "  - name: busy", `    cron: "* * * * *"`, "    duration: 1m"},
			[]string{"freeze[0]", "more than 500 times a week"}},
		{"two problems reported together", []string{"deployers: [a]", "freeze:", "  - name: month-end", `    cron: "0 0 28 * *"`, "    duration: 72h",
			"  - name: always", `    cron: "0 0 * * mon"`, "    duration: 7d"},
			[]string{"tollgate.yml:18: repositories.acme/api.environments.production.freeze[0]:", "tollgate.yml:21: repositories.acme/api.environments.production.freeze[1]:"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := policiesFromConfig(parseConfig(t, policyYAML(c.env...)))
			if err == nil {
				t.Fatal("converted without error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestWeeklyFreezeMatchesTheConfigSchedule compares the converted weekly
// windows with the config's own cron evaluation every 15 minutes over five
// weeks that include clock changes: both must agree whether a freeze is in
// force.
func TestWeeklyFreezeMatchesTheConfigSchedule(t *testing.T) {
	cases := []struct {
		name, cron, duration, zone string
		windows                    int
	}{
		{"weekend Berlin", "0 18 * * fri", "62h", "Europe/Berlin", 1},
		{"nights on weekdays", "30 22 * * mon-fri", "9h", "America/New_York", 5},
		{"twice a day", "0 9,17 * * *", "1h", "UTC", 14},
		{"sunday wraps to monday", "0 23 * * sun", "2h", "Asia/Tokyo", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := parseConfig(t, policyYAML("deployers: [a]", "freeze:", "  - name: f", `    cron: "`+c.cron+`"`,
				"    duration: "+c.duration, "    timezone: "+c.zone))
			env, _ := cfg.Environment("acme/api", "production")
			set, err := policiesFromConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := set.Environment("acme/api", "production")
			if len(p.FreezeWindows) != c.windows {
				t.Fatalf("%d weekly windows, want %d", len(p.FreezeWindows), c.windows)
			}
			// Five weeks around the spring clock changes of America and Europe.
			start := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
			for at := start; at.Before(start.AddDate(0, 0, 35)); at = at.Add(15 * time.Minute) {
				_, wantOn := env.Freezes[0].ActiveAt(at)
				gotOn := false
				for _, w := range p.FreezeWindows {
					if on, _ := w.ActiveAt(at); on {
						gotOn = true
					}
				}
				if gotOn != wantOn {
					t.Fatalf("at %s (%s): policy frozen %v, config frozen %v", at.Format(time.RFC3339), c.zone, gotOn, wantOn)
				}
			}
		})
	}
}

func TestWeeklyFreezeKeepsWallClockAcrossDST(t *testing.T) {
	p, _ := mustPolicies(t, policyYAML("deployers: [a]", "freeze:", "  - name: weekend", `    cron: "0 18 * * fri"`,
		"    duration: 62h", "    timezone: Europe/Berlin")).Environment("acme/api", "production")
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	// Clocks went forward on Sunday 2025-03-30: the freeze still ends Monday 08:00 Berlin time.
	cases := []struct {
		name string
		at   time.Time
		on   bool
	}{
		{"friday before", time.Date(2025, 3, 28, 17, 59, 0, 0, berlin), false},
		{"friday evening", time.Date(2025, 3, 28, 18, 0, 0, 0, berlin), true},
		{"sunday after the change", time.Date(2025, 3, 30, 12, 0, 0, 0, berlin), true},
		{"monday 07:59", time.Date(2025, 3, 31, 7, 59, 0, 0, berlin), true},
		{"monday 08:00", time.Date(2025, 3, 31, 8, 0, 0, 0, berlin), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			on, end := p.FreezeWindows[0].ActiveAt(c.at)
			if on != c.on {
				t.Fatalf("frozen at %s = %v, want %v", c.at, on, c.on)
			}
			if on && !end.Equal(time.Date(2025, 3, 31, 8, 0, 0, 0, berlin)) {
				t.Errorf("ends %s, want Monday 08:00 Berlin", end)
			}
		})
	}
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
