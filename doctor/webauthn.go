package doctor

import "fmt"

// checkSecurityKeys warns about production environments whose approvals
// are one click in Slack: that proves a Slack session, not the approver's
// presence now, so a stolen laptop with Slack open, or a hijacked Slack
// session, approves production. approvals.require_webauthn asks for a
// security key or passkey at the moment of approving (issue 14).
func (d *doctor) checkSecurityKeys() {
	for _, env := range d.cfg.Environments() {
		if !env.Production || env.GateOnly || env.RequiredApprovals < 1 {
			continue // no approvals to protect: checkPolicies reports it
		}
		what := "security key at approval on " + env.String()
		if env.Approvals.RequireWebAuthn {
			d.pass(areaAuthentication, what, "approvals.require_webauthn: each approval needs a fresh WebAuthn assertion")
			continue
		}
		d.warn(areaAuthentication, what,
			"approvals are a click in Slack, which a stolen laptop or a hijacked Slack session can make",
			fmt.Sprintf("set approvals: {require_webauthn: true} under repositories.%s.environments.%s; approvers "+
				"register a key with /deploy mfa register", env.Repository, env.Name))
	}
}
