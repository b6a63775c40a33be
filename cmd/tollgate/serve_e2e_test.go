package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// TestServeMergedPRDeploysToStaging is issue 4's end-to-end test: a signed
// merge webhook through the real server deploys over real SSH, GitHub sees
// the deployment statuses in order and one PR comment, and the audit chain
// holds every step and verifies.
func TestServeMergedPRDeploysToStaging(t *testing.T) {
	e := newE2E(t, e2eOptions{webLogin: true})
	e.start(t)

	if code, body := e.get(t, "/healthz"); code != 200 {
		t.Fatalf("healthz: %d %s", code, body)
	}
	if code, body := e.get(t, "/readyz"); code != 200 || !strings.Contains(body, "database: ok") || !strings.Contains(body, "audit key: ok") {
		t.Fatalf("readyz: %d %s", code, body)
	}
	const delivery = "5f1c0c2e-0000-4000-8000-000000000004"
	if code := e.sendMerge(t, delivery); code != http.StatusAccepted {
		t.Fatalf("merge webhook answered %d, want 202", code)
	}

	d := e.deployment(t, "success", "failure", "error")
	if got, want := e.gh.DeploymentStatuses(e2eRepo, d.ID), []string{"queued", "in_progress", "success"}; !slices.Equal(got, want) {
		t.Fatalf("deployment statuses %v, want %v\nlog:\n%s", got, want, e.stderr.String())
	}
	if d.SHA != sha('c') || d.Environment != "staging" || !d.ViaApp || d.Production {
		t.Errorf("deployment %+v: want sha c, staging, created by the app, not production", d)
	}
	final := d.Statuses[len(d.Statuses)-1]
	requestID := strings.TrimPrefix(final.LogURL, e2ePublic+"/deployments/")
	if requestID == final.LogURL || requestID == "" || final.EnvironmentURL != e2eEnvURL {
		t.Errorf("final status log_url %q environment_url %q", final.LogURL, final.EnvironmentURL)
	}

	// What the server has: the release live, with the commit's files.
	live := e.current(t)
	if !strings.HasSuffix(live, "-"+sha('c')[:7]) {
		t.Fatalf("current release %q, want one of %s", live, sha('c')[:7])
	}
	if b, err := os.ReadFile(filepath.Join(e.root, "current", "index.html")); err != nil || string(b) != "<h1>shop v2</h1>\n" {
		t.Errorf("index.html on the server: %q, %v", b, err)
	}

	// One PR comment with the outcome and the audit entry. The outbox
	// delivers it right after the final status, so wait for its outcome.
	waitFor(t, "the PR comment's outcome", func() bool {
		cs := e.gh.IssueComments(e2eRepo, 4)
		return len(cs) > 0 && strings.Contains(cs[len(cs)-1].Body, "✅ Deployed")
	})
	comments := e.gh.IssueComments(e2eRepo, 4)
	if len(comments) != 1 {
		t.Fatalf("%d PR comments, want 1: %+v", len(comments), comments)
	}
	for _, want := range []string{"✅ Deployed `ccccccc` to **staging**", requestID, "@alice", live, "127.0.0.1:", "audit"} {
		if !strings.Contains(comments[0].Body, want) {
			t.Errorf("PR comment lacks %q:\n%s", want, comments[0].Body)
		}
	}

	// The log page is behind the GitHub login: a stranger is sent to it,
	// and alice, a member of acme, signs in through GitHub and sees it.
	code, hdr, _ := e.getNoRedirect(t, "/deployments/"+requestID)
	if want := "/login?next=" + url.QueryEscape("/deployments/"+requestID); code != http.StatusFound || hdr.Get("Location") != want {
		t.Errorf("log page without a login: %d to %q, want 302 to %q", code, hdr.Get("Location"), want)
	}
	code, page, at := e.browse(t, "alice", "/deployments/"+requestID)
	if code != http.StatusOK || at.String() != e2ePublic+"/deployments/"+requestID {
		t.Fatalf("log page after signing in: %d at %s\n%s", code, at, page)
	}
	if !strings.Contains(page, `id="viewer">@alice (member)`) {
		t.Errorf("log page does not show who is signed in")
	}
	// The audit page shows the background verification with the
	// configured keys, and the environments page lists the policies in force.
	waitFor(t, "the audit page to show the background verification", func() bool {
		code, auditPage, _ := e.browse(t, "alice", "/audit")
		return code == http.StatusOK && strings.Contains(auditPage, `<span class="state ok">verified</span> up to seq`)
	})
	if code, envs, _ := e.browse(t, "alice", "/environments"); code != http.StatusOK || !strings.Contains(envs, "staging") || !strings.Contains(envs, e2eRepo) {
		t.Errorf("environments page: %d, acme/shop staging not listed\n%s", code, envs)
	}
	// The metrics and the log page tell the same story.
	for _, want := range []string{`id="state">succeeded`, "deployer_team", "deploy.finished", `<h2>File manifest</h2>`, "index.html", "upload"} {
		if !strings.Contains(page, want) {
			t.Errorf("log page lacks %q", want)
		}
	}
	_, metrics := e.get(t, "/metrics")
	for _, want := range []string{
		`tollgate_requests_total{environment="staging",repo="acme/shop",result="succeeded",trigger="merge"} 1`,
		`tollgate_deploy_duration_seconds_count{environment="staging",repo="acme/shop",result="succeeded"} 1`,
		`tollgate_webhook_ack_seconds_count{code="202",source="github"} 1`,
		"tollgate_inbox_pending 0",
		"tollgate_inbox_failed 0",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	// A redelivery is acknowledged and deploys nothing more.
	if code := e.sendMerge(t, delivery); code != http.StatusOK {
		t.Errorf("redelivery answered %d, want 200", code)
	}
	if code := e.stop(t); code != exitOK {
		t.Fatalf("serve exit code %d\n%s", code, e.stderr.String())
	}
	if n := len(e.gh.Deployments(e2eRepo)); n != 1 {
		t.Errorf("%d deployments after a redelivery, want 1", n)
	}

	// The audit log holds the whole story, signed through the last entry.
	st := e.openDB(t)
	r := onlyRequest(t, st)
	if r.ID != requestID || r.State != bot.StateSucceeded || r.GitHubDeploymentID != d.ID {
		t.Errorf("request %s %s deployment %d", r.ID, r.State, r.GitHubDeploymentID)
	}
	actions := auditActions(t, st, requestID)
	for _, want := range []string{"request.created", "policy.decided", "deploy.started", "deploy.finished"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit of %s lacks %s: %v", requestID, want, actions)
		}
	}
	finished := auditData(t, st, "deploy.finished")
	if len(finished) != 1 || finished[0]["release"] != live || finished[0]["manifest_digest"] == "" || finished[0]["files_sent"] != float64(3) {
		t.Errorf("deploy.finished %v", finished)
	}
	if started := auditData(t, st, "server.started"); len(started) != 1 || started[0]["config_hash"] == "" {
		t.Errorf("server.started %v", started)
	}
	if len(auditData(t, st, "server.stopped")) != 1 {
		t.Error("no server.stopped entry")
	}
	rep, err := audit.Verify(context.Background(), st.DB(), e.verifier)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.UnsignedTail != 0 || !rep.HasCheckpoint {
		t.Errorf("verify: ok %v, unsigned tail %d, checkpoint %v: %v", rep.OK, rep.UnsignedTail, rep.HasCheckpoint, rep.Problem)
	}

	// Logs: JSON lines, with request ids, and no secret.
	logs := e.stderr.String()
	pem := string(e.gh.AppPrivateKeyPEM())
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %q", line)
		}
	}
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("errors logged in a run that went well:\n%s", logs)
	}
	if !strings.Contains(logs, `"request_id"`) {
		t.Error("no request id in the logs")
	}
	for _, secret := range []string{e2eSecret, pem[40:80]} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret: %q", secret)
		}
	}
}
