package main

import (
	"strings"
	"testing"
)

// TestDoctorWarnsAboutProductionApprovalsWithoutASecurityKey: a warning,
// with its fix, not a failed check; gone once approvals need a key.
func TestDoctorWarnsAboutProductionApprovalsWithoutASecurityKey(t *testing.T) {
	w := newDoctorWorld(t)
	w.write(t)
	code, out, errOut := runCLI(t, "doctor", "--config", w.config)
	if code != exitOK || strings.Contains(out, "✗") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"  ! security key at approval on acme/shop/production: approvals are a click in Slack, which a stolen laptop or a hijacked Slack session can make\n" +
			"      fix: set approvals: {require_webauthn: true} under repositories.acme/shop.environments.production",
		", 1 warning (!)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	w.opts.securityKeys = true
	w.write(t)
	code, out, errOut = runCLI(t, "doctor", "--config", w.config)
	if code != exitOK || strings.Contains(out, "! security key") ||
		!strings.Contains(out, "✓ security key at approval on acme/shop/production: approvals.require_webauthn") {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
}
