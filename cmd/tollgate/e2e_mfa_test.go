package main

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/internal/mfaproof"
)

// TestServeApprovalWithASecurityKeyDeploysToProduction is issue 14's
// end-to-end test, through the real serve, the fake GitHub and Slack, a
// real headless Chromium with the DevTools virtual authenticator, and
// production's two real sshd servers. Approvers register keys from
// /deploy mfa register; alice asks for production; the Approve button
// opens Tollgate's page. Refused, each with no approval recorded and
// nothing deployed: the Slack click alone (the button's own click, and a
// forged plain Approve click), an /approve comment on the PR (a GitHub
// session alone), the requester with her own key, a browser
// holding another approver's key, an assertion without user verification.
// carol approves with her key, and only then production deploys. On a
// second request, carol's first assertion replayed, and a challenge gone
// stale, are refused. tollgate verify and the evidence pack re-verify the
// recorded assertion.
func TestServeApprovalWithASecurityKeyDeploysToProduction(t *testing.T) {
	w := newMFAE2E(t)
	for _, p := range []slackE2EPerson{slackCarol, slackErin, slackAlice} {
		w.register(t, p)
	}
	if got := w.slash(t, slackCarol, "mfa list"); !strings.Contains(got, "`carol-key` registered") {
		t.Errorf("/deploy mfa list for carol: %q", got)
	}

	msg := w.newApprovalMessage(t, 0)
	url := w.approveButtonURL(t, msg)
	if !strings.HasPrefix(url, w.public+"/mfa/approve/") {
		t.Fatalf("the Approve button opens %q", url)
	}
	id := requestIDOf(t, url)
	nothingYet := func(when string) {
		t.Helper()
		if r := w.request(t, id); r.State != bot.StateAwaitingApproval || len(r.Approvals) != 0 {
			t.Fatalf("after %s request %s is %s with %d approvals", when, id, r.State, len(r.Approvals))
		}
		for i, root := range w.roots {
			if _, err := os.Lstat(filepath.Join(root, "current")); !os.IsNotExist(err) {
				t.Fatalf("after %s production server %d has a release (%v)", when, i, err)
			}
		}
	}

	// The click in Slack alone: the button's own click, and a plain
	// Approve click with the request's nonce (a stale message, a forgery).
	w.slackClick(t, slackCarol, msg.TS, slackint.ActionApproveWebAuthn, id)
	if got := w.ephemeral(t, slackCarol, 1); !strings.Contains(got, "The click in Slack alone records nothing") {
		t.Errorf("carol was told %q after clicking the button", got)
	}
	w.slackClick(t, slackCarol, msg.TS, slackint.ActionApprove, id+":"+w.request(t, id).ApprovalNonce)
	if got := w.ephemeral(t, slackCarol, 2); !strings.Contains(got, "needs a security key or passkey") {
		t.Errorf("carol was told %q after a plain Approve click", got)
	}
	nothingYet("the Slack clicks")

	// carol's GitHub session alone: an /approve comment on the request's PR.
	after := w.postCommand(t, 4, "carol", "/approve "+id)
	var reply string
	waitFor(t, "the App's answer to carol's /approve comment", func() bool {
		var ok bool
		reply, ok = w.appReply(4, "carol", after)
		return ok
	})
	if !strings.Contains(reply, "needs a security key or passkey") {
		t.Errorf("carol's /approve comment was answered %q", reply)
	}
	nothingYet("the /approve comment")

	// The requester, with her own registered key.
	w.holding("alice", true)
	if got := w.approveOnPage(t, slackAlice, url, ""); !strings.Contains(got, "you requested this deploy; someone else must approve it") {
		t.Errorf("alice's own approval: %q", got)
	}
	// erin, in a browser holding a copy of carol's key, asks it to sign
	// without naming the allowed (erin's own) credentials.
	w.stolen("carol")
	if got := w.approveOnPage(t, slackErin, url, `pk.allowCredentials = []`); !strings.Contains(got, "Refused") ||
		!strings.Contains(got, "does not verify") {
		t.Errorf("carol's key in erin's browser: %q", got)
	}
	// erin's own key, which does not verify her (no PIN, no fingerprint).
	w.holding("erin", false)
	if got := w.approveOnPage(t, slackErin, url, `pk.userVerification = "discouraged"`); !strings.Contains(got, "User verification required but flag not set") {
		t.Errorf("erin's key without user verification: %q", got)
	}
	nothingYet("the refused pages")

	// carol approves with her key: the page shows what she approves.
	w.holding("carol", true)
	w.signInAt(t, slackCarol, url)
	for el, want := range map[string]string{"repo": e2eRepo, "environment": "production", "sha": sha('c'),
		"requester": "alice", "policy-hash": w.request(t, id).ConfigHash, "prs": "#4 New landing page by bob, merged by alice"} {
		if got := w.c.EvalString(`document.getElementById("` + el + `").textContent`); got != want {
			t.Errorf("the approval page's #%s shows %q, want %q", el, got, want)
		}
	}
	if got := w.approveOnPage(t, slackCarol, url, ""); !strings.Contains(got, "Approved with security key carol-key") {
		t.Fatalf("carol's approval: %q\n%s", got, w.stderr.String())
	}
	carolsAnswer := w.c.EvalString(`window.__posted[0]`)
	d := w.deployment(t, "success", "failure", "error")
	if got, want := w.gh.DeploymentStatuses(e2eRepo, d.ID), []string{"queued", "in_progress", "success"}; !slices.Equal(got, want) {
		t.Fatalf("deployment statuses %v, want %v\nlog:\n%s", got, want, w.stderr.String())
	}
	live := w.currentOn(t, 0)
	if !strings.HasSuffix(live, "-"+sha('c')[:7]) || w.currentOn(t, 1) != live {
		t.Fatalf("production runs %q and %q, want the release of %s on both", live, w.currentOn(t, 1), sha('c')[:7])
	}
	waitFor(t, "the approval message to show carol's approval", func() bool {
		m, _ := w.sl.Message(slackE2EChannel, msg.TS)
		return strings.Contains(blockStrings(t, m.Blocks), "1 of 1: <@"+slackCarol.slackID+">") ||
			strings.Contains(blockStrings(t, m.Blocks), "1 of 1: carol")
	})
	if m, _ := w.sl.Message(slackE2EChannel, msg.TS); strings.Contains(string(m.Blocks), "tollgate_approve_webauthn") {
		t.Errorf("the approval message still has its button: %s", m.Blocks)
	}

	// A second request: carol's earlier answer replayed is refused, and so
	// is a challenge that went stale on the page.
	msg2 := w.newApprovalMessage(t, len(w.sl.Messages(slackE2EChannel)))
	url2 := w.approveButtonURL(t, msg2)
	id2 := requestIDOf(t, url2)
	w.signInAt(t, slackCarol, url2)
	w.c.Eval(`(async () => { const d = JSON.parse(document.getElementById("mfa-data").dataset.json);
		const body = JSON.parse(` + jsonString(carolsAnswer) + `); body.ceremony = d.ceremony;
		const r = await fetch(d.finish, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
		window.__replay = (await r.json()).message; })(); true`)
	w.c.WaitFor("the replay's answer", `typeof window.__replay === "string"`)
	if got := w.c.EvalString(`window.__replay`); !strings.Contains(got, "Refused") || !strings.Contains(got, "challenge") {
		t.Errorf("carol's first answer replayed on %s: %q", id2, got)
	}
	w.signInAt(t, slackCarol, url2)
	w.c.WaitFor("the approve button", `document.getElementById("mfa-go") !== null && document.getElementById("mfa-go").dataset.ready === "true"`)
	w.clock.Advance(6 * time.Minute)
	w.c.Eval(`document.getElementById("mfa-go").click(); true`)
	if got := w.outcome(t); !strings.Contains(got, "expired") {
		t.Errorf("a stale challenge: %q", got)
	}
	if r := w.request(t, id2); len(r.Approvals) != 0 || r.State != bot.StateAwaitingApproval {
		t.Errorf("after the replay and the stale challenge %s is %s with %d approvals", id2, r.State, len(r.Approvals))
	}

	if code := w.stop(t); code != exitOK {
		t.Fatalf("serve exited %d", code)
	}
	st := w.openDB(t)
	refused := map[string][]string{}
	for _, id := range []string{id, id2} {
		for _, d := range auditDataWhere(t, st, `action = ? AND subject = ?`, bot.ActionApprovalRefused, id) {
			refused[id] = append(refused[id], d["code"].(string))
		}
	}
	if got := strings.Join(refused[id], " "); got != "mfa_required mfa_required self_approval mfa_invalid mfa_invalid" {
		t.Errorf("refusals audited on %s: %s", id, got)
	}
	if got := strings.Join(refused[id2], " "); got != "mfa_invalid mfa_invalid" {
		t.Errorf("refusals audited on %s: %s", id2, got)
	}
	var data []byte
	if err := st.DB().QueryRow(`SELECT data FROM audit_entries WHERE action = ? AND subject = ?`, bot.ActionApprovalGranted, id).Scan(&data); err != nil {
		t.Fatal(err)
	}
	if carried, err := mfaproof.CheckEntry(nil, bot.ActionApprovalGranted, id, time.Time{}, data); !carried || err != nil {
		t.Errorf("carol's recorded assertion: carried %v, %v", carried, err)
	}
	if n := len(auditData(t, st, bot.ActionMFARegistered)); n != 3 {
		t.Errorf("%d registrations audited, want 3", n)
	}

	code, out, errOut := runCLI(t, "verify", "--config", w.configPath)
	if code != exitOK || !strings.Contains(out, "security keys:   1 recorded assertions re-verified") {
		t.Errorf("tollgate verify: exit %d\n%s%s", code, out, errOut)
	}
	pack := filepath.Join(t.TempDir(), "pack")
	now := w.clock.Now()
	code, out, errOut = runCLI(t, "evidence", "--config", w.configPath, "--from", dayArg(now.AddDate(0, 0, -1)),
		"--to", dayArg(now.AddDate(0, 0, 2)), "--out", pack)
	if code != exitOK {
		t.Fatalf("tollgate evidence: exit %d\n%s%s", code, out, errOut)
	}
	rows := readPackCSV(t, filepath.Join(pack, "approvals.csv"))
	if len(rows) != 1 || rows[0]["request_id"] != id || rows[0]["mfa"] != "yes" || rows[0]["mfa_reverifies"] != "yes" {
		t.Errorf("approvals.csv: %v", rows)
	}
}

// readPackCSV returns a pack CSV's rows as maps by column name.
func readPackCSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}
