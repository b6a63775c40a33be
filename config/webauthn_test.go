package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// webauthnBase is baseConfig with the web login's OAuth client (which
// security keys need) and Slack; production, appended, starts on line 33.
var webauthnBase = strings.Replace(strings.Replace(baseConfig, "  org: acme\n",
	"  org: acme\n  oauth_client_id: Iv1.abc\n  oauth_client_secret: ${OAUTH_SECRET}\n", 1),
	"repositories:", `slack:
  bot_token: ${SLACK_TOKEN}
  signing_secret: ${SLACK_SECRET}
  channel: C0DEPLOYS
  client_id: "1234.5678"
  client_secret: ${SLACK_SECRET}
webauthn:
  attestation: direct
  allowed_aaguids: [CB69481E-8FF7-4039-93EC-0A2729A154A8, ee882879-721c-4913-9775-3dfcce97072a]
repositories:`, 1)

var webauthnEnv = env(map[string]string{"WEBHOOK_SECRET": "w", "OAUTH_SECRET": "o", "SLACK_TOKEN": "xoxb-1", "SLACK_SECRET": "s"})

func webauthnProduction(body ...string) string {
	return webauthnBase + "      production:\n        " + strings.Join(withTargets(body...), "\n        ") + "\n"
}

func TestParseWebAuthn(t *testing.T) {
	cfg, warnings, err := Parse("tollgate.yml", []byte(webauthnProduction("production: true", "deployers: [backend]",
		"approvers: [leads]", "required_approvals: 1", "approvals:", "  require_webauthn: true", "emergency:",
		"  teams: [oncall]", "  require_webauthn: true")), webauthnEnv)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	want := WebAuthn{Attestation: "direct", AllowedAAGUIDs: []string{"cb69481e-8ff7-4039-93ec-0a2729a154a8", "ee882879-721c-4913-9775-3dfcce97072a"}}
	if !reflect.DeepEqual(cfg.WebAuthn, want) {
		t.Errorf("webauthn = %+v, want %+v", cfg.WebAuthn, want)
	}
	p, _ := cfg.Policies().Environment("acme/api", "production")
	if !p.ApprovalsRequireWebAuthn || !p.EmergencyRequireWebAuthn {
		t.Errorf("policy = approvals %v, emergency %v; want both required", p.ApprovalsRequireWebAuthn, p.EmergencyRequireWebAuthn)
	}
	staging, _ := cfg.Policies().Environment("acme/api", "staging")
	if staging.ApprovalsRequireWebAuthn || staging.EmergencyRequireWebAuthn {
		t.Error("staging requires security keys without saying so")
	}
	if def, _, err := Parse("tollgate.yml", []byte(baseConfig), testEnv); err != nil || def.WebAuthn.Attestation != "none" {
		t.Errorf("default attestation %q, %v; want none", def.WebAuthn.Attestation, err)
	}
}

func TestParseWebAuthnWarnsWhereItDoesNothing(t *testing.T) {
	_, warnings := mustParse(t, "tollgate.yml", webauthnProduction("deployers: [backend]", "approvals: {require_webauthn: true}",
		"emergency: {require_webauthn: true}"), webauthnEnv)
	var got []string
	for _, w := range warnings {
		got = append(got, w.String())
	}
	want := []string{
		"tollgate.yml:33: warning: repositories.acme/api.environments.production.approvals.require_webauthn: has no effect: required_approvals is 0, so nobody approves deploys here",
		"tollgate.yml:33: warning: repositories.acme/api.environments.production.emergency.require_webauthn: has no effect: emergency.teams is empty, so there is no emergency path",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParseRejectsBadWebAuthn(t *testing.T) {
	prod := "repositories.acme/api.environments.production"
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"misspelt key suggests the right one",
			webauthnProduction("deployers: [backend]", "approvals:", "  require_webauth: true"),
			[]string{`tollgate.yml:36: ` + prod + `.approvals.require_webauth: unknown key (did you mean "require_webauthn"?)`}},
		{"not a boolean",
			webauthnProduction("deployers: [backend]", "emergency:", "  require_webauthn: always"),
			[]string{`tollgate.yml:36: ` + prod + `.emergency.require_webauthn: expected true or false, got "always"`}},
		{"unknown attestation",
			strings.Replace(webauthnBase, "attestation: direct", "attestation: enterprise", 1),
			[]string{`tollgate.yml:19: webauthn.attestation: unknown attestation "enterprise": want none, indirect or direct`}},
		{"an AAGUID that is not a UUID",
			strings.Replace(webauthnBase, "ee882879-721c-4913-9775-3dfcce97072a", "yubikey-5", 1),
			[]string{`tollgate.yml:20: webauthn.allowed_aaguids[1]: invalid AAGUID "yubikey-5": want a UUID such as cb69481e-8ff7-4039-93ec-0a2729a154a8`}},
		{"no web login to approve on",
			strings.Replace(webauthnProduction("deployers: [backend]", "approvers: [leads]", "required_approvals: 1",
				"approvals: {require_webauthn: true}"), "  oauth_client_id: Iv1.abc\n  oauth_client_secret: ${OAUTH_SECRET}\n", "", 1),
			[]string{
				`tollgate.yml:10: github.oauth_client_id: required when slack is configured: Slack users link their GitHub identity through the App's OAuth flow`,
				`tollgate.yml:31: ` + prod + `.approvals.require_webauthn: needs github.oauth_client_id and github.oauth_client_secret: security keys are used on Tollgate's web pages, behind the GitHub login`}},
		{"no secure context",
			strings.Replace(webauthnProduction("deployers: [backend]", "approvers: [leads]", "required_approvals: 1",
				"approvals: {require_webauthn: true}"), "https://tollgate.example.com", "http://tollgate.example.com", 1),
			[]string{`tollgate.yml:33: ` + prod + `.approvals.require_webauthn: needs public_url to be https:// (or http://localhost for a local test): browsers use security keys only in a secure context, and public_url is http://tollgate.example.com`}},
		{"an IP address for a host",
			strings.Replace(webauthnProduction("deployers: [backend]", "approvers: [leads]", "required_approvals: 1",
				"approvals: {require_webauthn: true}"), "https://tollgate.example.com", "https://10.0.0.5", 1),
			[]string{`tollgate.yml:33: ` + prod + `.approvals.require_webauthn: needs public_url to name a host: a security key is registered to a domain (the WebAuthn RP ID), never to an IP address, and public_url is https://10.0.0.5`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Parse("tollgate.yml", []byte(tc.yaml), webauthnEnv)
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("Parse: %v, want a *ValidationError", err)
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Errorf("errors:\n got: %s\nwant: %s", got, want)
			}
		})
	}
	if _, _, err := Parse("tollgate.yml", []byte(strings.Replace(webauthnProduction("deployers: [backend]", "approvers: [leads]",
		"required_approvals: 1", "approvals: {require_webauthn: true}"), "https://tollgate.example.com", "http://localhost:8080", 1)),
		webauthnEnv); err != nil {
		t.Errorf("http://localhost is a secure context, but: %v", err)
	}
}
