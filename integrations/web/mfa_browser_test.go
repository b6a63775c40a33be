package web

import (
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/cdptest"
)

// TestBrowserRegistersAKeyAndApprovesWithIt runs the security key pages
// in a real headless Chromium with the DevTools virtual authenticator:
// carol opens her registration link, signs in on the fake GitHub, and
// registers a key (user verification); she opens a request's approval
// page and approves with it. Then, for a second request, a browser whose
// key does not verify the user (the page's options tampered with to ask
// it not to) is refused and nothing is approved.
func TestBrowserRegistersAKeyAndApprovesWithIt(t *testing.T) {
	path := cdptest.Path(t)
	m := newMFAHarness(t)
	c := cdptest.Start(t, path)
	c.EnableWebAuthn()
	key := c.AddAuthenticator(cdptest.Authenticator{UserVerification: true, Verified: true})

	m.gh.AuthorizeAs("carol")
	c.Navigate(m.registerLink(t, "carol"))
	c.WaitFor("the registration page", `location.origin === `+strconv.Quote(m.public)+` && document.getElementById("mfa-go") !== null && document.getElementById("mfa-go").dataset.ready === "true"`)
	c.Eval(`document.getElementById("mfa-name").value = "virtual-key"; document.getElementById("mfa-go").click(); true`)
	c.WaitFor("the registration's outcome", `["done", "refused", "error"].includes(document.getElementById("mfa-status").dataset.outcome)`)
	if got := c.EvalString(`document.getElementById("mfa-status").textContent`); !strings.Contains(got, "virtual-key is registered") {
		t.Fatalf("registration: %q", got)
	}
	if creds := c.Credentials(key); len(creds) != 1 || creds[0].RPID != "localhost" {
		t.Fatalf("the authenticator holds %+v", creds)
	}

	r := m.request(t, "r-brow001")
	c.Navigate(m.approveLink(r))
	c.WaitFor("the approval page", `document.getElementById("mfa-go") !== null && document.getElementById("mfa-go").dataset.ready === "true"`)
	for id, want := range map[string]string{"repo": testRepo, "environment": "production", "sha": testSHA,
		"requester": "alice", "policy-hash": r.ConfigHash} {
		if got := c.EvalString(`document.getElementById(` + strconv.Quote(id) + `).textContent`); got != want {
			t.Errorf("#%s shows %q, want %q", id, got, want)
		}
	}
	c.Eval(`document.getElementById("mfa-go").click(); true`)
	c.WaitFor("the approval's outcome", `["done", "refused"].includes(document.getElementById("mfa-status").dataset.outcome)`)
	if got := c.EvalString(`document.getElementById("mfa-status").textContent`); !strings.Contains(got, "Approved with security key virtual-key") {
		t.Fatalf("approval: %q", got)
	}
	if as := m.approvals(t, r.ID); len(as) != 1 || as[0].Approver.Login != "carol" {
		t.Fatalf("approvals %+v", as)
	}

	// No user verification: the browser asks the key not to verify (the
	// options tampered with in the page), and the server refuses.
	other := m.request(t, "r-brow002")
	c.SetUserVerified(key, false)
	c.Navigate(m.approveLink(other))
	c.WaitFor("the approval page", `document.getElementById("mfa-go") !== null && document.getElementById("mfa-go").dataset.ready === "true"`)
	c.Eval(`(() => { const el = document.getElementById("mfa-data"); const d = JSON.parse(el.dataset.json);
		d.options.publicKey.userVerification = "discouraged"; el.dataset.json = JSON.stringify(d); return true })()`)
	// mfa.js read the options at load: load it again over the tampered data.
	c.Eval(`(() => { const s = document.createElement("script"); s.src = "/mfa/mfa.js";
		const b = document.getElementById("mfa-go"); const nb = b.cloneNode(true); b.replaceWith(nb); document.body.appendChild(s); return true })()`)
	c.WaitFor("the script reloaded", `document.scripts.length >= 2`)
	c.Eval(`setTimeout(() => document.getElementById("mfa-go").click(), 200); true`)
	c.WaitFor("the refusal", `["done", "refused"].includes(document.getElementById("mfa-status").dataset.outcome)`)
	if got := c.EvalString(`document.getElementById("mfa-status").textContent`); !strings.Contains(got, "Refused") ||
		!strings.Contains(strings.ToLower(got), "verif") {
		t.Fatalf("an assertion without user verification: %q", got)
	}
	t.Logf("refused: %s", c.EvalString(`document.getElementById("mfa-status").textContent`))
	if as := m.approvals(t, other.ID); len(as) != 0 {
		t.Fatalf("approved without user verification: %+v", as)
	}
}
