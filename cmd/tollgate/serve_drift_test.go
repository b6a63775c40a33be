package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/store"
)

// TestServeDriftIsFoundReportedAndClearedByTheNextDeploy is issue 13's
// drift acceptance, through the real server and a real sshd: after a
// deploy an intruder with file access edits a live file, adds one,
// removes one and chmods one. `tollgate drift` names exactly those four
// paths and exits 1; the scheduled check appends release.drift_detected,
// alerts the channel once and sets tollgate_drift_paths; the next deploy
// sends the edited file anew and the next check is clean again.
func TestServeDriftIsFoundReportedAndClearedByTheNextDeploy(t *testing.T) {
	e := newE2E(t, e2eOptions{webLogin: true})
	sl := slacktest.New(slacktest.Options{})
	t.Cleanup(sl.Close)
	sl.AddChannel(slackE2EChannel, "deploys")
	cfg := strings.Replace(readTestFile(t, e.configPath), "repositories:", `drift:
  interval: 300ms
slack:
  api_url: `+sl.APIURL()+`
  response_url_base: `+sl.ResponseURLBase()+`
  web_url: `+sl.WebURL()+`
  bot_token: `+sl.BotToken()+`
  signing_secret: `+slackE2ESecret+`
  client_id: "`+sl.ClientID()+`"
  client_secret: `+sl.ClientSecret()+`
  channel: `+slackE2EChannel+`
  channels:
    `+slackE2EChannel+`: `+e2eRepo+`
repositories:`, 1)
	writeTestFile(t, e.configPath, cfg)
	e.start(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("serve's log:\n%s", e.stderr.String())
		}
	})
	e.sendMerge(t, "5f1c0c2e-0000-4000-8000-000000000013")
	e.deployment(t, "success")
	first := e.current(t)
	st := e.openDB(t)
	const subject = e2eRepo + " staging"
	waitFor(t, "a clean drift check", func() bool { return driftChecks(t, st, 0) > 0 })
	// The checks that follow verify the release's attestation, written
	// by the outbox just after the deploy.
	waitFor(t, "the attestation on the server", func() bool {
		_, err := os.Stat(filepath.Join(e.root, "releases", first, filepath.FromSlash(attest.FileName)))
		return err == nil
	})

	live := filepath.Join(e.root, "current")
	editInPlace(t, filepath.Join(live, "index.html"), "<script src=//evil.example/x.js></script>\n")
	writeTestFile(t, filepath.Join(live, "app/shell.php"), "<?php system($_GET['c']);\n")
	if err := os.Remove(filepath.Join(live, "app/app.js")); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(live, "bin/health"), 0o777); err != nil {
		t.Fatal(err)
	}

	var out, errb bytes.Buffer
	if code := dispatch(context.Background(), []string{"drift", "--config", e.configPath}, &out, &errb); code != exitCheckFailed {
		t.Fatalf("tollgate drift exit %d, want 1\n%s%s", code, out.String(), errb.String())
	}
	var paths []string
	for _, line := range strings.Split(out.String(), "\n") {
		if m := regexp.MustCompile(`^    (changed|added|removed|mode_changed) (\S+?):? `).FindStringSubmatch(line + " "); m != nil {
			paths = append(paths, m[1]+" "+m[2])
		}
	}
	want := []string{"removed app/app.js", "added app/shell.php", "mode_changed bin/health", "changed index.html"}
	if !slices.Equal(paths, want) {
		t.Errorf("tollgate drift reported %v, want %v\n%s", paths, want, out.String())
	}
	if !strings.Contains(out.String(), "DRIFT") || !strings.Contains(out.String(), first) {
		t.Errorf("tollgate drift output:\n%s", out.String())
	}

	waitFor(t, "release.drift_detected", func() bool { return slices.Contains(auditActions(t, st, subject), bot.ActionDriftDetected) })
	data := auditData(t, st, bot.ActionDriftDetected)[0]
	server := data["servers"].([]any)[0].(map[string]any)
	if got := fmt.Sprint(server["paths"]); got != "map[added:[app/shell.php] changed:[index.html] mode_changed:[bin/health] removed:[app/app.js]]" {
		t.Errorf("audit paths %s", got)
	}
	if data["release"] != first {
		t.Errorf("audit release %v, want %s", data["release"], first)
	}
	var alerts []slacktest.Message
	waitFor(t, "the drift alert in the channel", func() bool {
		alerts = driftAlerts(sl)
		return len(alerts) > 0
	})
	for _, p := range []string{"changed index.html", "added app/shell.php", "removed app/app.js", "mode changed bin/health", "staging"} {
		if !strings.Contains(alerts[0].Text, p) {
			t.Errorf("the alert lacks %q: %s", p, alerts[0].Text)
		}
	}
	addr := fmt.Sprintf("127.0.0.1:%d", e.sshdPort)
	metric := `tollgate_drift_paths{environment="staging",repository="acme/shop",server="` + addr + `"} 4`
	if _, m := e.get(t, "/metrics"); !strings.Contains(m, metric) {
		t.Errorf("metrics lack %s", metric)
	}
	// /environments shows it per server, with the live release.
	if code, page, _ := e.browse(t, "alice", "/environments"); code != 200 || !strings.Contains(page, "<td><code>"+addr+"</code></td><td><code>"+first+"</code></td><td>verified</td><td><span class=\"state bad\">drift</span>") {
		t.Errorf("/environments (%d) does not show the drift on %s:\n%s", code, addr, page)
	}
	// More checks see the same drift: no second entry, no second alert.
	n := driftChecks(t, st, 1)
	waitFor(t, "two more drift checks", func() bool { return driftChecks(t, st, 1) >= n+2 })
	if got := len(auditData(t, st, bot.ActionDriftDetected)); got != 1 {
		t.Errorf("%d drift_detected entries for one finding", got)
	}
	if got := len(driftAlerts(sl)); got != 1 {
		t.Errorf("%d alerts for one finding", got)
	}

	// The next deploy (index.html unchanged in the commit) sends the
	// edited file anew instead of hard-linking it, and the drift clears.
	editedInode := inode(t, filepath.Join(live, "index.html"))
	e.gh.AddPullRequest(e2eRepo, githubtest.PullRequest{Number: 5, Title: "Docs", Author: "bob", HeadSHA: prCommit(5, 1), Base: "main"})
	e.gh.MergePullRequest(e2eRepo, 5, mergeCommit(5), "alice")
	if err := e.gh.SetTarball(e2eRepo, mergeCommit(5), map[string]string{
		"index.html": "<h1>shop v2</h1>\n", "app/app.js": "console.log('v2')\n", "bin/health": "#!/bin/sh\ngrep -q v2 index.html\n", "README": "docs\n",
	}); err != nil {
		t.Fatal(err)
	}
	p, err := e.gh.Payloads().PullRequestMerged(e2eRepo, 5, mergeCommit(5), "alice", "main")
	e.deliver(t, p, err)
	waitForQuick(t, "the second release live", func() bool { return e.current(t) != first && e.current(t) != "" })
	waitFor(t, "release.drift_cleared", func() bool { return slices.Contains(auditActions(t, st, subject), bot.ActionDriftCleared) })
	if b := readTestFile(t, filepath.Join(live, "index.html")); b != "<h1>shop v2</h1>\n" {
		t.Errorf("live index.html after the next deploy: %q", b)
	}
	if inode(t, filepath.Join(live, "index.html")) == editedInode {
		t.Errorf("the edited index.html was hard-linked into the next release")
	}
	out.Reset()
	errb.Reset()
	if code := dispatch(context.Background(), []string{"drift", "--config", e.configPath, "--environment", "staging"}, &out, &errb); code != exitOK {
		t.Errorf("tollgate drift after the deploy: exit %d\n%s%s", code, out.String(), errb.String())
	}
	metric = `tollgate_drift_paths{environment="staging",repository="acme/shop",server="` + addr + `"} 0`
	if _, m := e.get(t, "/metrics"); !strings.Contains(m, metric) {
		t.Errorf("metrics lack %s", metric)
	}

	// An intruder replaces the live release's attestation with the
	// previous release's: signed by the right key, with valid proofs, but
	// about another release. The check verifies it against the live one.
	second := e.current(t)
	secondAtt := filepath.Join(e.root, "releases", second, filepath.FromSlash(attest.FileName))
	waitFor(t, "the second release's attestation", func() bool { _, err := os.Stat(secondAtt); return err == nil })
	old := readTestFile(t, filepath.Join(e.root, "releases", first, filepath.FromSlash(attest.FileName)))
	if err := os.Remove(secondAtt); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, secondAtt, old)
	out.Reset()
	errb.Reset()
	code := dispatch(context.Background(), []string{"drift", "--config", e.configPath, "--environment", "staging"}, &out, &errb)
	if want := "attestation_invalid: "; code != exitCheckFailed || !strings.Contains(out.String(), want) ||
		!strings.Contains(out.String(), "it attests release "+first+", not the live "+second) {
		t.Errorf("tollgate drift with another release's attestation: exit %d, want 1 naming it\n%s%s", code, out.String(), errb.String())
	}
	// Removing the attestation Tollgate wrote is drift too.
	if err := os.Remove(secondAtt); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	code = dispatch(context.Background(), []string{"drift", "--config", e.configPath, "--environment", "staging"}, &out, &errb)
	if code != exitCheckFailed || !strings.Contains(out.String(), "attestation_missing: release "+second+": the attestation Tollgate wrote is gone") {
		t.Errorf("tollgate drift without the attestation: exit %d, want 1 naming it\n%s%s", code, out.String(), errb.String())
	}
}

// driftChecks counts the recorded drift checks that found drift (1) or not (0).
func driftChecks(t *testing.T, st *store.Store, drifted int) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow(`SELECT COUNT(*) FROM drift_checks WHERE drifted = ?`, drifted).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func driftAlerts(sl *slacktest.Server) []slacktest.Message {
	var out []slacktest.Message
	for _, m := range sl.Messages(slackE2EChannel) {
		if strings.Contains(m.Text, "Drift on") {
			out = append(out, m)
		}
	}
	return out
}

// editInPlace appends to a file through its inode, as an editor writing
// in place does: every release hard-linked to it sees the change.
func editInPlace(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(s)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func waitForQuick(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for i := 0; i < 300; i++ {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestDriftCommandNeverCallsAnUnreachableServerClean: a server that does
// not answer is "NOT CHECKED" and the command exits 2, not 0.
func TestDriftCommandNeverCallsAnUnreachableServerClean(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	e.start(t) // creates the database
	e.stop(t)
	cfg := strings.Replace(readTestFile(t, e.configPath), fmt.Sprintf("port: %d", e.sshdPort), "port: 1", 1)
	writeTestFile(t, e.configPath, cfg)
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), []string{"drift", "--config", e.configPath}, &out, &errb)
	if code != exitUsage || !strings.Contains(out.String(), "127.0.0.1:1: NOT CHECKED") || strings.Contains(out.String(), "clean") {
		t.Errorf("exit %d, want 2 and the server not checked:\n%s%s", code, out.String(), errb.String())
	}
}
