package web

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"

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
