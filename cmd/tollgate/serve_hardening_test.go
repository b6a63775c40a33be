package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// createDeploymentAs creates a GitHub deployment through the REST API with
// who's own token, as a repository writer with a script would.
func (w *refusalWorld) createDeploymentAs(t *testing.T, who, sha, env string, payload map[string]any) int64 {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"ref": sha, "environment": env, "auto_merge": false,
		"required_contexts": []string{}, "payload": payload, "description": "deployed by " + who})
	req, err := http.NewRequest(http.MethodPost, w.gh.APIURL()+"/repos/"+e2eRepo+"/deployments", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "token "+w.gh.UserToken(who))
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.gh.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var d struct {
		ID int64 `json:"id"`
	}
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(b, &d) != nil || d.ID == 0 {
		t.Fatalf("creating a deployment as %s: %d %s", who, resp.StatusCode, b)
	}
	return d.ID
}

// TestServeReportsOnlyOnItsOwnDeployment (issue 15 item 4): while a
// request awaits approval its id is public (the PR comment), so wendy, a
// repository writer who is not a deployer, creates a GitHub deployment of
// the same commit and environment whose payload names it. Once carol
// approves, Tollgate reports the deploy on a deployment of its own App;
// wendy's gets no status from Tollgate. Fails before this change: Tollgate
// adopted wendy's deployment, so GitHub showed her as the deploy's creator
// with her description and payload.
func TestServeReportsOnlyOnItsOwnDeployment(t *testing.T) {
	w := newRefusalWorld(t)
	w.gh.AddUser("wendy")
	w.start(t)
	id := w.awaitApproval(t, 30)
	commit := prCommit(30, 1)
	planted := w.createDeploymentAs(t, "wendy", commit, "preview", map[string]any{"tollgate_request_id": id})

	w.postCommand(t, 30, "carol", "/approve "+id)
	w.checkDeployed(t, "preview", commit)

	var own []githubtest.Deployment
	for _, d := range w.gh.Deployments(e2eRepo) {
		switch {
		case d.ID == planted:
			if len(d.Statuses) != 0 {
				t.Errorf("wendy's deployment got %d statuses from Tollgate: %+v", len(d.Statuses), d.Statuses)
			}
		case d.SHA == commit:
			own = append(own, d)
		}
	}
	if len(own) != 1 {
		t.Fatalf("Tollgate's deployments of %s: %d, want 1", commit[:7], len(own))
	}
	d := own[0]
	if !d.ViaApp || d.Creator != w.gh.AppSlug()+"[bot]" {
		t.Errorf("the deploy is reported on a deployment by %s (via the App: %v)", d.Creator, d.ViaApp)
	}
	var states []string
	for _, s := range d.Statuses {
		states = append(states, s.State)
	}
	if want := []string{"queued", "in_progress", "success"}; !slices.Equal(states, want) {
		t.Errorf("statuses on Tollgate's deployment %v, want %v", states, want)
	}
	if code := w.stop(t); code != exitOK {
		t.Fatalf("serve exit %d\n%s", code, w.stderr)
	}
}

// TestServeKeepsToItsOwnPRComment (issue 15, findComment suspicion):
// GitHub refuses Tollgate's comment writes while a request waits for
// approval, so the request's comment id is not recorded yet; meanwhile a
// workflow's github-actions[bot] posts a comment carrying the request's
// marker (the id is public in the approvals channel and the deployment).
// Once GitHub is back, Tollgate writes a comment of its own and leaves the
// look-alike untouched. Fails before this change: Tollgate adopted the
// other bot's comment, its edits were refused, and the request's comment
// was never written.
func TestServeKeepsToItsOwnPRComment(t *testing.T) {
	w := newRefusalWorld(t)
	w.gh.AddBot("github-actions[bot]")
	w.gh.FailNext(http.MethodPost, "/repos/*/*/issues/*/comments", http.StatusInternalServerError, 1_000_000)
	w.start(t)
	w.openPR(t, 40)
	w.labelPR(t, 40, "deploy:preview", "alice")
	var id string
	waitFor(t, "the request to wait for approval with its comment refused", func() bool {
		rs := requestsIn(t, w.dbPath, bot.StateAwaitingApproval)
		if len(rs) != 1 {
			return false
		}
		id = rs[0].ID
		_, failedOnce := outboxRows(t, w.dbPath, id)
		return failedOnce >= 1
	})
	fake := "<!-- tollgate:request " + id + " -->\n✅ Deployed — approved by nobody"
	lookalike := w.gh.AddIssueComment(e2eRepo, 40, "github-actions[bot]", fake)
	w.gh.ClearFaults()

	got, body := w.requestComment(t, 40)
	if got != id || !strings.Contains(body, "is waiting for approval") {
		t.Errorf("Tollgate's comment is about %s:\n%s", got, body)
	}
	var marked int
	for _, c := range w.gh.IssueComments(e2eRepo, 40) {
		if c.ID == lookalike && (c.Body != fake || c.Edits != 0) {
			t.Errorf("the other bot's comment was changed (%d edits):\n%s", c.Edits, c.Body)
		}
		if strings.Contains(c.Body, "<!-- tollgate:request "+id+" -->") {
			marked++
		}
	}
	if marked != 2 {
		t.Errorf("%d comments carry the request's marker, want the look-alike and Tollgate's own", marked)
	}
	if code := w.stop(t); code != exitOK {
		t.Fatalf("serve exit %d\n%s", code, w.stderr)
	}
}

// TestServeRepliesOnlyToSlackResponseURLs (issue 15, response_url
// suspicion): a slash command, signed with the signing secret (as whoever
// holds it, or a proxy rewriting Slack's requests, could sign it), names a
// response_url on another host, here a listener inside the network.
// Tollgate posts nothing there and answers through the Web API instead;
// a response_url under slack.response_url_base is still used. Fails before
// this change: the reply was posted to the foreign URL.
func TestServeRepliesOnlyToSlackResponseURLs(t *testing.T) {
	w := newSlackE2E(t)
	var hits atomic.Int32
	canary := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		rw.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(canary.Close)
	w.start(t)
	w.link(t, slackAlice)

	send := func(text, responseURL string) {
		t.Helper()
		resp, err := slacktest.SlashCommand(context.Background(), w.url("/slack/commands"), slackE2ESecret, slacktest.SlashCommandParams{
			TeamID: w.sl.TeamID(), UserID: slackAlice.slackID, UserName: "alice", ChannelID: slackE2EChannel,
			Text: text, ResponseURL: responseURL})
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/deploy %s answered %d", text, resp.StatusCode)
		}
	}
	before := len(w.sl.Ephemerals(slackAlice.slackID))
	send("lock production maintenance window", canary.URL+"/response/R00000001")
	told := w.ephemeral(t, slackAlice, before+1)
	if es := w.sl.Ephemerals(slackAlice.slackID); es[before].Via != "chat.postEphemeral" || !strings.Contains(told, "is locked by you") {
		t.Errorf("alice was told %q via %s, want the lock reply through chat.postEphemeral", told, es[before].Via)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("Tollgate posted %d time(s) to a response_url outside Slack", n)
	}
	if !strings.Contains(w.stderr.String(), "response_url is not under the Slack response URL base") {
		t.Errorf("the refused response_url was not logged:\n%s", w.stderr)
	}

	// Slack's own response_url is used.
	own := w.sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: slackE2EChannel, User: slackAlice.slackID})
	send("unlock production", own)
	waitFor(t, "the unlock reply through the response_url", func() bool { return len(w.sl.ResponseURLPosts(own)) == 1 })
	if code := w.stop(t); code != exitOK {
		t.Fatalf("serve exit %d\n%s", code, w.stderr)
	}
}

// TestServeRefusesProtectionRuleRunsThatMayRunForkCode (issue 15,
// protection-rule suspicion): GitHub Actions jobs gated by Tollgate's
// deployment protection rule report the SHA of the branch the run started
// from. A run started by pull_request_target, workflow_run or
// issue_comment reports the base branch's SHA while it may check out and
// run a fork's code, so it would pass the branch, review and check rules
// for code nobody reviewed. Each is refused, recorded as the failing
// run_event check, and answered "rejected" on its callback; the same job
// started by a push is approved. Fails before this change: every run was
// approved.
func TestServeRefusesProtectionRuleRunsThatMayRunForkCode(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	e.start(t)
	runs := []struct {
		event string
		run   int64
		want  string
	}{
		{"push", 7100, "approved"},
		{"pull_request_target", 7101, "rejected"},
		{"workflow_run", 7102, "rejected"},
		{"issue_comment", 7103, "rejected"},
	}
	for _, r := range runs {
		p, err := e.gh.Payloads().DeploymentProtectionRule(e2eRepo, r.run, "staging", sha('c'), "main", "alice")
		if err == nil {
			err = p.Set("event", r.event)
		}
		e.deliver(t, p, err)
	}
	answers := map[int64]githubtest.ProtectionRuleCallback{}
	waitFor(t, "an answer on every run's callback", func() bool {
		for _, c := range e.gh.ProtectionRuleCallbacks() {
			answers[c.RunID] = c
		}
		return len(answers) == len(runs)
	})
	for _, r := range runs {
		if got := answers[r.run]; got.State != r.want {
			t.Errorf("run started by %s: %s (%q), want %s", r.event, got.State, got.Comment, r.want)
		}
	}
	if code := e.stop(t); code != exitOK {
		t.Fatalf("serve exit %d\n%s", code, e.stderr)
	}
	st := e.openDB(t)
	var refused int
	for _, d := range auditData(t, st, bot.ActionPolicyDecided) {
		c := decidedCheck(d, bot.CheckRunEvent)
		if c == nil {
			t.Errorf("a protection-rule decision without the run_event check: %v", d["checks"])
			continue
		}
		if c["outcome"] == string(bot.OutcomeFail) {
			refused++
			if c["code"] != string(bot.CodeUntrustedRun) || !strings.Contains(fmt.Sprint(c["detail"]), "may") {
				t.Errorf("run_event check %v", c)
			}
		}
	}
	if refused != 3 {
		t.Errorf("%d decisions failed run_event, want 3", refused)
	}
}
