package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// WebAuthn configures the security keys (WebAuthn credentials) that
// environments may require at the moment of approving (issue 14). The
// relying party is Tollgate's public URL: its host is the RP ID, so a
// credential registered there works only there.
type WebAuthn struct {
	// Attestation is what registration asks of authenticators about their
	// make: "none" (the default: no attestation statement, nothing to
	// verify against a vendor's roots), "indirect" or "direct".
	Attestation string
	// AllowedAAGUIDs, when not empty, are the only authenticator models
	// (AAGUIDs, lower-case UUIDs) that may be registered. Without an
	// attestation statement the AAGUID is the authenticator's own claim:
	// the list stops mistakes (a phone passkey where a hardware key is
	// required), not a forged authenticator.
	AllowedAAGUIDs []string
}

// Approvals configures how an environment's approvals are given.
type Approvals struct {
	// RequireWebAuthn makes an approval count only with a fresh WebAuthn
	// assertion over what is approved, on Tollgate's approval page.
	RequireWebAuthn bool
}

// DefaultAttestation is webauthn.attestation's default.
const DefaultAttestation = "none"

var (
	attestationValues = []string{"none", "indirect", "direct"}
	aaguidRE          = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// webauthn decodes the top-level webauthn section.
func (d *decoder) webauthn(top *section) WebAuthn {
	s := d.subsection(top, "webauthn", "attestation", "allowed_aaguids")
	w := WebAuthn{Attestation: DefaultAttestation}
	if v, ok := s.str("attestation"); ok {
		if contains(attestationValues, v) {
			w.Attestation = v
		} else {
			d.errorf(s.f["attestation"].val.Line, join(s.path, "attestation"), "unknown attestation %q: want none, indirect or direct", v)
		}
	}
	d.eachString(s, "allowed_aaguids", func(p string, item *yaml.Node, v string) {
		v = strings.ToLower(strings.TrimSpace(v))
		if !aaguidRE.MatchString(v) {
			d.errorf(item.Line, p, "invalid AAGUID %q: want a UUID such as cb69481e-8ff7-4039-93ec-0a2729a154a8", v)
			return
		}
		w.AllowedAAGUIDs = append(w.AllowedAAGUIDs, v)
	})
	return w
}

// approvals decodes an environment's approvals section.
func (d *decoder) approvals(s *section, env *Environment) {
	a := d.subsection(s, "approvals", "require_webauthn")
	env.Approvals.RequireWebAuthn = a.boolean("require_webauthn")
}

// validateWebAuthn checks what security keys need: a page to approve on
// (the web login), a secure context for browsers, and approvals to apply
// to. It warns where a requirement does nothing.
func (d *decoder) validateWebAuthn(c *Config) {
	var first *Environment
	key := ""
	for _, env := range c.Environments() {
		path := fmt.Sprintf("repositories.%s.environments.%s", env.Repository, env.Name)
		if env.Approvals.RequireWebAuthn && env.RequiredApprovals == 0 {
			d.warnf(env.Line, path+".approvals.require_webauthn",
				"has no effect: required_approvals is 0, so nobody approves deploys here")
		}
		if env.Emergency.RequireWebAuthn && len(env.Emergency.Teams) == 0 {
			d.warnf(env.Line, path+".emergency.require_webauthn", "has no effect: emergency.teams is empty, so there is no emergency path")
		}
		if first == nil && (env.Approvals.RequireWebAuthn || env.Emergency.RequireWebAuthn) {
			first, key = env, path+".approvals.require_webauthn"
			if !env.Approvals.RequireWebAuthn {
				key = path + ".emergency.require_webauthn"
			}
		}
	}
	if first == nil {
		return
	}
	if c.GitHub.AppID != 0 && !c.GitHub.WebLoginConfigured() {
		d.errorf(first.Line, key, "needs github.oauth_client_id and github.oauth_client_secret: security keys are used on "+
			"Tollgate's web pages, behind the GitHub login")
	}
	u, err := url.Parse(c.PublicURL)
	switch {
	case c.PublicURL == "" || err != nil:
	case net.ParseIP(u.Hostname()) != nil:
		d.errorf(first.Line, key, "needs public_url to name a host: a security key is registered to a domain "+
			"(the WebAuthn RP ID), never to an IP address, and public_url is %s", c.PublicURL)
	case u.Scheme != "https" && u.Hostname() != "localhost":
		d.errorf(first.Line, key, "needs public_url to be https:// (or http://localhost for a local test): browsers use "+
			"security keys only in a secure context, and public_url is %s", c.PublicURL)
	}
	if !c.Slack.Enabled {
		d.warnf(first.Line, key, "without slack nobody is handed the page to approve or register a security key on")
	}
}
