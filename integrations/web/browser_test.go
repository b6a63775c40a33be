package web

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"

	"github.com/tollgate-dev/tollgate/internal/cdptest"
)

// TestBrowserSignsInAndReadsADeployment drives a real headless Chromium:
// it opens a deployment page, is sent to the login, signs in on the fake
// GitHub's authorize form, comes back through the callback (state cookie,
// PKCE) to the page it asked for, and reads it, on a desktop and a phone
// viewport. Screenshots go to $TOLLGATE_ARTIFACTS (default
// testdata/artifacts/ at the repository root); TOLLGATE_UPDATE_SCREENSHOT=1
// also refreshes docs/img/deployment-page.png for the README.
func TestBrowserSignsInAndReadsADeployment(t *testing.T) {
	path := cdptest.Path(t)
	hs := newHarness(t)
	hs.gh.AuthorizeAs("") // the fake shows its "Authorize" form, as GitHub does
	c := cdptest.Start(t, path)

	page := "/deployments/" + testRequestID
	c.Navigate(hs.srv.URL + page)
	c.WaitFor("the fake GitHub's authorize form", `location.pathname === "/login/oauth/authorize" && !!document.getElementById("login")`)
	if got := c.EvalString(`new URL(location.href).searchParams.get("code_challenge_method")`); got != "S256" {
		t.Errorf("authorize request code_challenge_method %q, want S256", got)
	}
	c.Eval(`document.getElementById("login").value = "alice"; document.getElementById("authorize").click(); true`)
	c.WaitFor("the deployment page after sign-in",
		`location.origin === `+strconv.Quote(hs.srv.URL)+` && location.pathname === `+strconv.Quote(page)+
			` && document.readyState === "complete" && !!document.getElementById("state")`)

	tests := []struct{ name, expr, want string }{
		{"state", `document.getElementById("state").textContent`, "succeeded"},
		{"viewer", `document.getElementById("viewer").textContent`, "@alice (member)"},
		{"first policy check", `document.querySelector("#checks tr:nth-child(2) td").textContent`, "deployer_team"},
		{"approver", `document.querySelector("#approvals tr:nth-child(2) td").textContent`, "bob"},
		{"manifest digest", `document.getElementById("manifest-digest").textContent`, "sha256:9d1c0ffee"},
		{"servers with steps", `Array.from(document.querySelectorAll("h3")).filter(h => h.nextElementSibling && h.nextElementSibling.querySelector("table.steps")).map(h => h.firstChild.textContent.trim()).join(",")`, "web-1,web-2"},
		{"proofs rendered", `String(document.querySelectorAll("pre.proof").length)`, "5"},
		// HttpOnly: the page's own script context cannot read the session cookie.
		{"session cookie hidden from scripts", `document.cookie`, ""},
	}
	for _, tt := range tests {
		if got := c.EvalString(tt.expr); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	desktop := c.Screenshot(false)

	// A phone: 390 CSS pixels wide. Nothing may be wider than the screen
	// (tables scroll inside their own box).
	c.Page("Emulation.setDeviceMetricsOverride", map[string]any{"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}, nil)
	c.Navigate(hs.srv.URL + page)
	c.WaitFor("the deployment page on a phone", `document.readyState === "complete" && !!document.getElementById("state") && window.innerWidth === 390`)
	var overflow int
	if err := json.Unmarshal(c.Eval(`document.documentElement.scrollWidth - window.innerWidth`), &overflow); err != nil || overflow > 0 {
		t.Errorf("on a 390 px phone the page is %d px wider than the screen", overflow)
	}
	phoneTop, phone := c.Screenshot(false), c.Screenshot(true)
	shots := map[string][]byte{}
	for _, p := range []struct{ path, marker string }{{"/environments", "env-production"}, {"/audit", "entries"}} {
		c.Navigate(hs.srv.URL + p.path)
		c.WaitFor(p.path+" on a phone", `document.readyState === "complete" && !!document.getElementById(`+strconv.Quote(p.marker)+`)`)
		if err := json.Unmarshal(c.Eval(`document.documentElement.scrollWidth - window.innerWidth`), &overflow); err != nil || overflow > 0 {
			t.Errorf("on a 390 px phone %s is %d px wider than the screen", p.path, overflow)
		}
		shots[p.path[1:]] = c.Screenshot(true)
	}

	dir := os.Getenv("TOLLGATE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "testdata", "artifacts")
	}
	save(t, filepath.Join(dir, "deployment-page-desktop.png"), desktop)
	save(t, filepath.Join(dir, "deployment-page-phone.png"), phone)
	save(t, filepath.Join(dir, "deployment-page-phone-top.png"), phoneTop)
	for name, png := range shots {
		save(t, filepath.Join(dir, name+"-page-phone.png"), png)
	}
	if os.Getenv("TOLLGATE_UPDATE_SCREENSHOT") == "1" {
		save(t, filepath.Join("..", "..", "docs", "img", "deployment-page.png"), desktop)
	}
}

func save(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	t.Logf("screenshot saved: %s (%d bytes)", abs, len(data))
}

// TestBrowserShowsAnEmergencyAndATamperedEntry opens, in a real headless
// Chromium, an emergency change's page and the audit page of a log whose
// entry was edited behind Tollgate's back, and reads what a person sees:
// "approvals skipped by policy" with the review's verdict in its own
// section, entries rendered rather than raw JSON, and the edited entry's
// row marked. TOLLGATE_UPDATE_SCREENSHOT=1 also refreshes
// docs/img/emergency-page.png and docs/img/audit-tampered.png.
func TestBrowserShowsAnEmergencyAndATamperedEntry(t *testing.T) {
	path := cdptest.Path(t)
	hs := newHarness(t)
	ctx := context.Background()
	hs.seedEmergency(ctx)
	hs.gh.AuthorizeAs("bob")
	c := cdptest.Start(t, path)
	c.Page("Emulation.setDeviceMetricsOverride", map[string]any{"width": 1100, "height": 900, "deviceScaleFactor": 1, "mobile": false}, nil)

	page := "/deployments/" + testEmergencyID
	c.Navigate(hs.srv.URL + page)
	c.WaitFor("the emergency change's page after sign-in",
		`location.pathname === `+strconv.Quote(page)+` && document.readyState === "complete" && !!document.getElementById("emergency")`)
	for _, tt := range []struct{ name, expr, want string }{
		{"state", `document.getElementById("state").textContent`, "succeeded"},
		{"badge", `document.getElementById("emergency-badge").textContent`, "emergency change"},
		{"what happened to approvals", `document.getElementById("emergency").innerText`,
			"emergency approvals skipped by policy: the emergency path deploys without approvals, and an approver who did not deploy the change reviews it after the fact."},
		{"no approval count", `String(document.body.innerText.includes("valid of"))`, "false"},
		{"reason", `document.getElementById("emergency-reason").textContent`, "checkout times out under load"},
		{"ticket", `document.getElementById("emergency-ticket").textContent`, "INC-42"},
		{"verdict", `document.getElementById("verdict").textContent`, "not acceptable"},
		{"reviewer", `document.getElementById("reviewer").textContent`, "bob"},
		{"note", `document.getElementById("review-note").textContent`, "should have waited for the fix"},
		{"entries rendered", `Array.from(document.querySelectorAll("#audit p.summary")).map(p => p.textContent).join(" | ")`,
			"emergency deploy of acme/shop@3f9c2a1 to production for dave: checkout times out under load (ticket INC-42)" +
				" | emergency change by dave, review due by " + hs.clock.Now().Add(-6*time.Hour).UTC().Format("2006-01-02 15:04 UTC") +
				" from acme/approvers | reviewed not acceptable by bob at " + hs.clock.Now().Add(-4*time.Hour).UTC().Format("2006-01-02 15:04 UTC") + " (late): should have waited for the fix"},
		{"no raw JSON", `String(document.body.innerText.includes('{"'))`, "false"},
	} {
		if got := c.EvalString(tt.expr); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	emergency := c.Screenshot(true)

	// Someone with the database file rewrites who approved the first deploy.
	var seq int64
	if err := hs.st.DB().QueryRowContext(ctx, `SELECT min(seq) FROM audit_entries WHERE action = ?`, bot.ActionApprovalGranted).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`DROP TRIGGER audit_entries_no_update`, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = ?`} {
		if _, err := hs.st.DB().ExecContext(ctx, q, seq); err != nil {
			t.Fatal(err)
		}
	}
	// The page shows the background verification's result: let it run.
	start := time.Now()
	hs.mon.Check()
	if st := hs.waitVerified(start); st.Report.OK {
		t.Fatal("the tampered log verified")
	}
	c.Navigate(hs.srv.URL + "/audit")
	c.WaitFor("the audit page", `document.readyState === "complete" && !!document.getElementById("entries")`)
	row := "#entries tr#seq-" + strconv.FormatInt(seq, 10)
	for _, tt := range []struct{ name, expr, want string }{
		{"verification", `document.getElementById("verification").innerText.split(" — ")[0]`,
			"tampering found entry seq " + strconv.FormatInt(seq, 10) + ": leaf hash does not match the entry's contents (entry changed, or stored hash replaced) (see the entry)"},
		{"the marked row's seq", `document.querySelector("` + row + ` td").innerText`, strconv.FormatInt(seq, 10) + " tampered"},
		{"its actor as the attacker left it", `document.querySelector("` + row + ` td:nth-child(3)").textContent`, "mallory"},
		{"only one row marked", `String(document.querySelectorAll("#entries tr.tampered").length)`, "1"},
		{"the row stands out", `getComputedStyle(document.querySelector("` + row + `.tampered td")).backgroundColor`, "rgb(255, 235, 233)"},
		{"other rows do not", `getComputedStyle(document.querySelector("#entries tr:nth-child(2) td")).backgroundColor`, "rgba(0, 0, 0, 0)"},
		{"the note links to it", `document.querySelector("#tampered-note a").getAttribute("href")`, "#seq-" + strconv.FormatInt(seq, 10)},
	} {
		if got := c.EvalString(tt.expr); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
	tampered := c.Screenshot(true)

	dir := os.Getenv("TOLLGATE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "testdata", "artifacts")
	}
	save(t, filepath.Join(dir, "emergency-page-desktop.png"), emergency)
	save(t, filepath.Join(dir, "audit-tampered-desktop.png"), tampered)
	if os.Getenv("TOLLGATE_UPDATE_SCREENSHOT") == "1" {
		save(t, filepath.Join("..", "..", "docs", "img", "emergency-page.png"), emergency)
		save(t, filepath.Join("..", "..", "docs", "img", "audit-tampered.png"), tampered)
	}
}
