package main

// The world of TestServeApprovalWithASecurityKeyDeploysToProduction: the
// Slack e2e world with production's approvals needing a security key,
// served at http://localhost:PORT (a secure context, whose host is the
// WebAuthn RP ID), and a real headless Chromium with the DevTools
// virtual authenticator.

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"testing"
	"time"

	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/internal/cdptest"
)

// slackErin approves, and neither asked for nor wrote anything.
var slackErin = slackE2EPerson{"erin", "U0ERIN001"}

// mfaE2E is the world, its clock and its browser.
type mfaE2E struct {
	*slackE2E
	clock *offsetClock
	c     *cdptest.Browser
	keys  map[string][]cdptest.Credential // credentials by holder, while their authenticator is detached
	key   string                          // the attached authenticator
	owner string                          // whose credentials it holds
}

func newMFAE2E(t *testing.T) *mfaE2E {
	t.Helper()
	path := cdptest.Path(t) // skips or fails before anything starts
	w := &mfaE2E{slackE2E: newSlackE2E(t), clock: &offsetClock{}, keys: map[string][]cdptest.Credential{}}
	w.sl.AddUser(slackErin.slackID, slackErin.login)
	w.gh.SetTeamMember("acme", "approvers", "erin", "")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	w.ln, w.public = ln, "http://localhost:"+strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	cfg := strings.Replace(readTestFile(t, w.configPath), "public_url: "+e2ePublic, "public_url: "+w.public, 1)
	writeTestFile(t, w.configPath, cfg+"        approvals:\n          require_webauthn: true\n")
	w.startWithClock(t, w.clock.Now)
	for _, p := range []slackE2EPerson{slackAlice, slackCarol, slackErin} {
		w.linkDirect(t, p)
	}
	w.c = cdptest.Start(t, path)
	w.c.EnableWebAuthn()
	return w
}

// linkDirect links p through /deploy link and GitHub's OAuth flow, with a
// plain HTTP client: public_url is this machine.
func (w *mfaE2E) linkDirect(t *testing.T, p slackE2EPerson) {
	t.Helper()
	link := slacktest.LinkURL(w.slash(t, p, "link"))
	if !strings.HasPrefix(link, w.public+slackint.PathOAuthStart+"?") {
		t.Fatalf("/deploy link for %s gave %q", p.login, link)
	}
	w.sl.SignInAs(p.slackID) // the link proves the Slack user first (Sign in with Slack)
	defer w.sl.SignInAs("")
	w.gh.AuthorizeAs(p.login)
	defer w.gh.AuthorizeAs("")
	jar, _ := cookiejar.New(nil)
	resp, err := (&http.Client{Jar: jar, Timeout: time.Minute}).Get(link)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "now linked to GitHub user "+p.login) {
		t.Fatalf("linking %s: %d\n%s", p.login, resp.StatusCode, page)
	}
}

// holding attaches one authenticator holding owner's credentials (none
// yet: a new key), verifying the user or not. The one attached before is
// detached, its credentials kept for its owner. One at a time: with one
// attached, the browser never has to choose.
func (w *mfaE2E) holding(owner string, verifies bool) {
	if w.key != "" {
		if w.owner != "" {
			w.keys[w.owner] = w.c.Credentials(w.key)
		}
		w.c.RemoveAuthenticator(w.key)
	}
	w.key, w.owner = w.c.AddAuthenticator(cdptest.Authenticator{UserVerification: true, Verified: verifies}), owner
	for _, cr := range w.keys[owner] {
		w.c.AddCredential(w.key, cr)
	}
}

// stolen attaches an authenticator holding a copy of victim's credentials,
// as a thief's browser would; it is not kept.
func (w *mfaE2E) stolen(victim string) {
	w.holding("", true)
	for _, cr := range w.keys[victim] {
		w.c.AddCredential(w.key, cr)
	}
}

// signInAt opens url in a fresh session as p: the browser's cookies are
// cleared, and the fake GitHub approves the sign-in as p.
func (w *mfaE2E) signInAt(t *testing.T, p slackE2EPerson, url string) {
	t.Helper()
	w.c.Page("Network.clearBrowserCookies", nil, nil)
	w.gh.AuthorizeAs(p.login)
	w.c.Navigate(url)
	w.c.WaitFor(p.login+"'s page", `location.origin === `+strconv.Quote(w.public)+` && document.readyState === "complete" && `+
		`document.getElementById("viewer") !== null && document.getElementById("viewer").textContent.startsWith("@`+p.login+` ")`)
}

// register registers a key for p: /deploy mfa register, its link, the page.
func (w *mfaE2E) register(t *testing.T, p slackE2EPerson) {
	t.Helper()
	w.holding(p.login, true)
	link := slacktest.LinkURL(w.slash(t, p, "mfa register"))
	if !strings.HasPrefix(link, w.public+"/mfa/register?t=") {
		t.Fatalf("/deploy mfa register for %s gave %q", p.login, link)
	}
	w.signInAt(t, p, link)
	w.c.WaitFor("the register button", `document.getElementById("mfa-go") !== null && document.getElementById("mfa-go").dataset.ready === "true"`)
	w.c.Eval(`document.getElementById("mfa-name").value = ` + strconv.Quote(p.login+"-key") + `; document.getElementById("mfa-go").click(); true`)
	if got := w.outcome(t); !strings.Contains(got, p.login+"-key is registered") {
		t.Fatalf("registering %s's key: %q", p.login, got)
	}
}

// outcome waits for the page's verdict and returns it.
func (w *mfaE2E) outcome(t *testing.T) string {
	t.Helper()
	w.c.WaitFor("the page's verdict", `["done", "refused", "error", "unsupported"].includes(document.getElementById("mfa-status").dataset.outcome)`)
	return w.c.EvalString(`document.getElementById("mfa-status").textContent`)
}

// approveOnPage opens the approval page as p and clicks its button;
// tamper, when set, is JavaScript changing the options first (the page's
// script is then loaded again over them, as an attacker's browser would).
func (w *mfaE2E) approveOnPage(t *testing.T, p slackE2EPerson, url, tamper string) string {
	t.Helper()
	w.signInAt(t, p, url)
	w.c.WaitFor("the approve button", `document.getElementById("mfa-go") !== null && document.getElementById("mfa-go").dataset.ready === "true"`)
	if tamper != "" {
		w.c.Eval(`(() => { const el = document.getElementById("mfa-data"); const d = JSON.parse(el.dataset.json);
			const pk = d.options.publicKey; ` + tamper + `; el.dataset.json = JSON.stringify(d);
			const b = document.getElementById("mfa-go"); b.replaceWith(b.cloneNode(true));
			const s = document.createElement("script"); s.src = "/mfa/mfa.js"; s.id = "reloaded"; document.body.appendChild(s); return true })()`)
		w.c.WaitFor("the script loaded again", `!!document.getElementById("reloaded")`)
		time.Sleep(300 * time.Millisecond) // let it run
	}
	w.c.Eval(`window.__posted = []; const f = window.fetch; window.fetch = function (u, o) { window.__posted.push(o.body); return f.apply(this, arguments); }; document.getElementById("mfa-go").click(); true`)
	return w.outcome(t)
}

// approveButtonURL returns the URL of the approval message's security key
// button, and checks the message has no plain Approve button.
func (w *mfaE2E) approveButtonURL(t *testing.T, m slacktest.Message) string {
	t.Helper()
	var blocks []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			URL      string `json:"url"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(m.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	url := ""
	for _, b := range blocks {
		for _, e := range b.Elements {
			switch e.ActionID {
			case "tollgate_approve_webauthn":
				url = e.URL
			case "tollgate_approve":
				t.Errorf("the message still has a plain Approve button")
			}
		}
	}
	return url
}

// slackClick sends p's signed click on a button, by action id and value,
// whether or not the message shows it (a stale message, a forged click).
func (w *mfaE2E) slackClick(t *testing.T, p slackE2EPerson, ts, actionID, value string) {
	t.Helper()
	w.sendClick(t, p, ts, actionID, "tollgate_actions", value, "Approve")
}

// newApprovalMessage asks for production as alice and waits for the
// message that is not one of before.
func (w *mfaE2E) newApprovalMessage(t *testing.T, before int) slacktest.Message {
	t.Helper()
	if ack := w.slash(t, slackAlice, "production"); !strings.Contains(ack, "Working on") {
		t.Fatalf("/deploy production was acknowledged with %q", ack)
	}
	var msg slacktest.Message
	waitFor(t, "a new approval message", func() bool {
		ms := w.sl.Messages(slackE2EChannel)
		if len(ms) <= before {
			return false
		}
		for _, m := range ms[before:] {
			if strings.Contains(string(m.Blocks), "tollgate_approve_webauthn") {
				msg = m
				return true
			}
		}
		return false
	})
	return msg
}

// requestIDOf reads the request id from an approval page URL.
func requestIDOf(t *testing.T, url string) string {
	t.Helper()
	_, rest, ok := strings.Cut(url, "/mfa/approve/")
	id, _, ok2 := strings.Cut(rest, "?t=")
	if !ok || !ok2 || id == "" {
		t.Fatalf("not an approval page URL: %q", url)
	}
	return id
}

func dayArg(t time.Time) string { return t.UTC().Format("2006-01-02") }
