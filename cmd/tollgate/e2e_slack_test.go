package main

import (
	"context"
	"encoding/json"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// TestServeSlackApprovalDeploysToProduction is issue 5's end-to-end test,
// through the real serve assembly: people link Slack to GitHub through the
// OAuth flow; alice asks for production; the approval message is posted;
// alice's own click and the PR author's click are refused with the reason
// and change nothing; carol's click is accepted; both production servers
// (real sshd) get the release; the thread, GitHub's deployment statuses
// and the PR comment tell the story, and so does the audit log, which
// verifies.
func TestServeSlackApprovalDeploysToProduction(t *testing.T) {
	w := newSlackE2E(t)
	w.start(t)
	for _, p := range []slackE2EPerson{slackAlice, slackBob, slackCarol} {
		w.link(t, p)
	}
	if got := w.slash(t, slackCarol, "whoami"); !strings.Contains(got, "carol") {
		t.Errorf("/deploy whoami for carol answered %q", got)
	}

	// alice asks; the approval message appears in the deploy channel.
	toldBefore := len(w.sl.Ephemerals(slackAlice.slackID))
	if ack := w.slash(t, slackAlice, "production"); !strings.Contains(ack, "Working on") {
		t.Errorf("/deploy production was acknowledged with %q", ack)
	}
	msg := w.approvalMessage(t)
	_, value, _ := slacktest.Button(msg.Blocks, slackint.ActionApprove)
	id, nonce, ok := strings.Cut(value, ":")
	if !ok || id == "" || nonce == "" {
		t.Fatalf("the Approve button carries %q, want request id and nonce", value)
	}
	// The message's ref is stored once Slack answered the post: wait for it.
	var r bot.Request
	waitFor(t, "the request to record its Slack message", func() bool {
		r = w.request(t, id)
		return r.ExternalRefs[slackint.RefSlackTS] != ""
	})
	if r.State != bot.StateAwaitingApproval || r.SHA != sha('c') || r.Requester.Login != "alice" || r.Trigger != bot.TriggerSlack {
		t.Fatalf("request %s is %s for %s by %s (%s), want awaiting_approval for %s by alice from slack",
			id, r.State, r.SHA, r.Requester.Login, r.Trigger, sha('c'))
	}
	if got, want := r.ExternalRefs[slackint.RefSlackTS], slackE2EChannel+":"+msg.TS; got != want {
		t.Errorf("request's Slack message ref %q, want %q", got, want)
	}
	if told := w.ephemeral(t, slackAlice, toldBefore+1); !strings.Contains(told, id) {
		t.Errorf("alice was told %q, which does not name her request %s", told, id)
	}
	if m := slackDateToken.FindStringSubmatch(blockStrings(t, msg.Blocks)); m == nil || m[1] != strconv.FormatInt(r.ApprovalDeadline.Unix(), 10) {
		t.Errorf("the message's expiry %v is not the request's deadline %s", m, r.ApprovalDeadline)
	}
	goldenFile(t, "slack_approval_message.json", normalisedBlocks(t, msg.Blocks,
		strings.NewReplacer(id, "r-REQID", nonce, "NONCE", w.gh.URL(), "https://github.example")))

	// Separation of duties: the requester and the PR author are approvers,
	// and are refused all the same.
	refusals := []struct {
		name string
		who  slackE2EPerson
		want string
	}{
		{"requester's own click", slackAlice, "you requested this deploy; someone else must approve it"},
		{"PR author's click", slackBob, "you wrote PR #4; someone else must approve its deploy"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := len(w.sl.Ephemerals(tc.who.slackID))
			w.click(t, tc.who, msg.TS, slackint.ActionApprove, "Approve")
			if got := w.ephemeral(t, tc.who, before+1); !strings.Contains(got, tc.want) {
				t.Errorf("%s was told %q, want %q", tc.who.login, got, tc.want)
			}
			if r := w.request(t, id); r.State != bot.StateAwaitingApproval || len(r.Approvals) != 0 {
				t.Errorf("after %s the request is %s with %d approvals", tc.name, r.State, len(r.Approvals))
			}
		})
	}
	if m, _ := w.sl.Message(slackE2EChannel, msg.TS); len(m.History) != 1 {
		t.Errorf("refused clicks edited the approval message (%d versions)", len(m.History))
	}

	// carol approves: production deploys to both servers.
	w.click(t, slackCarol, msg.TS, slackint.ActionApprove, "Approve")
	d := w.deployment(t, "success", "failure", "error")
	if got, want := w.gh.DeploymentStatuses(e2eRepo, d.ID), []string{"queued", "in_progress", "success"}; !slices.Equal(got, want) {
		t.Fatalf("deployment statuses %v, want %v\nlog:\n%s", got, want, w.stderr.String())
	}
	if d.SHA != sha('c') || d.Environment != "production" || !d.Production || !d.ViaApp {
		t.Errorf("deployment %+v: want sha c, production, created by the app", d)
	}
	final := d.Statuses[len(d.Statuses)-1]
	if final.LogURL != e2ePublic+"/deployments/"+id || final.EnvironmentURL != slackE2EProdURL {
		t.Errorf("final status log_url %q environment_url %q", final.LogURL, final.EnvironmentURL)
	}

	// The thread: queued (by whom), running, the result with the log link.
	logLink := "<" + e2ePublic + "/deployments/" + id + "|Log>"
	var thread []string
	waitFor(t, "the result in the thread", func() bool {
		thread = w.threadTexts(msg.TS)
		return len(thread) > 0 && strings.Contains(thread[len(thread)-1], logLink)
	})
	var kinds []string
	for _, line := range thread {
		switch {
		case line == ":hourglass_flowing_sand: Queued: approved by carol.":
			kinds = append(kinds, "queued")
		case line == ":rocket: Running: deploying `ccccccc` to production.":
			kinds = append(kinds, "running")
		case strings.HasPrefix(line, ":white_check_mark: Deployed `ccccccc` to production (") && strings.HasSuffix(line, logLink):
			kinds = append(kinds, "succeeded")
			for _, addr := range w.addrs {
				if !strings.Contains(line, addr) {
					t.Errorf("the result line does not name server %s: %q", addr, line)
				}
			}
		}
	}
	if want := []string{"queued", "running", "succeeded"}; !slices.Equal(kinds, want) {
		t.Errorf("thread lines %v, want %v:\n%s", kinds, want, strings.Join(thread, "\n"))
	}

	// The message was updated in place: carol's approval, no buttons.
	updated, _ := w.sl.Message(slackE2EChannel, msg.TS)
	if _, _, ok := slacktest.Button(updated.Blocks, slackint.ActionApprove); ok || len(updated.History) < 2 {
		t.Errorf("approval message not updated without buttons (%d versions): %s", len(updated.History), updated.Blocks)
	}
	if text := blockStrings(t, updated.Blocks); !strings.Contains(text, "1 of 1: <@"+slackCarol.slackID+"> (carol)") {
		t.Errorf("the updated message does not show carol's approval:\n%s", text)
	}

	// Both servers run the new release, with the commit's files.
	live := w.currentOn(t, 0)
	if !strings.HasSuffix(live, "-"+sha('c')[:7]) {
		t.Fatalf("current release on %s is %q, want one of %s", w.addrs[0], live, sha('c')[:7])
	}
	if other := w.currentOn(t, 1); other != live {
		t.Errorf("current release on %s is %q, on %s %q: want the same", w.addrs[1], other, w.addrs[0], live)
	}
	for _, root := range w.roots {
		if got := readTestFile(t, filepath.Join(root, "current", "index.html")); got != "<h1>shop v2</h1>\n" {
			t.Errorf("%s/current/index.html is %q", root, got)
		}
	}

	// The PR comment names the outcome, the requester and the approver.
	var comment string
	waitFor(t, "the PR comment with the audit entry", func() bool {
		for _, c := range w.gh.IssueComments(e2eRepo, 4) {
			if strings.Contains(c.Body, "tollgate:request "+id+" ") && strings.Contains(c.Body, "Audit entry") {
				comment = c.Body
				return true
			}
		}
		return false
	})
	for _, want := range []string{"✅ Deployed `ccccccc` to **production**", "| Requested by | @alice", "| Approved by | @carol", live} {
		if !strings.Contains(comment, want) {
			t.Errorf("PR comment lacks %q:\n%s", want, comment)
		}
	}

	if code := w.stop(t); code != exitOK {
		t.Fatalf("serve exit code %d\n%s", code, w.stderr.String())
	}
	checkSlackE2EAudit(t, w, id, live)

	// A run that went well logs no error, and no secret.
	logs := w.stderr.String()
	if strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("errors logged in a run that went well:\n%s", logs)
	}
	_, oauthSecret := w.gh.AppOAuthClient()
	for _, secret := range []string{slackE2ESecret, w.sl.BotToken(), oauthSecret} {
		if strings.Contains(logs, secret) {
			t.Errorf("logs contain a secret: %q", secret)
		}
	}
}

// checkSlackE2EAudit checks the audit log tells the whole story of request
// id, from the links to the deploy, and verifies.
func checkSlackE2EAudit(t *testing.T, w *slackE2E, id, live string) {
	t.Helper()
	st := w.openDB(t)
	r := onlyRequest(t, st)
	if r.ID != id || r.State != bot.StateSucceeded || len(r.Approvals) != 1 || r.Approvals[0].Approver.Login != "carol" {
		t.Errorf("request %s is %s with approvals %+v, want succeeded approved by carol", r.ID, r.State, r.Approvals)
	}
	linked := auditData(t, st, bot.ActionIdentityLinked)
	var logins []string
	for _, l := range linked {
		logins = append(logins, auditString(l["github_login"]))
	}
	if want := []string{"alice", "bob", "carol"}; !slices.Equal(logins, want) {
		t.Errorf("identity.linked entries for %v, want %v", logins, want)
	}
	actions := auditActions(t, st, id)
	story := []string{bot.ActionRequestCreated, bot.ActionPolicyDecided, bot.ActionApprovalRefused, bot.ActionApprovalRefused,
		bot.ActionApprovalGranted, bot.ActionDeployStarted, bot.ActionDeployFinished}
	if !containsInOrder(actions, story) {
		t.Errorf("audit of %s is %v, want in order %v", id, actions, story)
	}
	refused := auditData(t, st, bot.ActionApprovalRefused)
	var codes []string
	for _, d := range refused {
		codes = append(codes, auditString(d["approver"])+":"+auditString(d["code"]))
	}
	if want := []string{"alice:" + string(bot.CodeSelfApproval), "bob:" + string(bot.CodeAuthorApproval)}; !slices.Equal(codes, want) {
		t.Errorf("approval.refused entries %v, want %v", codes, want)
	}
	if granted := auditData(t, st, bot.ActionApprovalGranted); len(granted) != 1 || granted[0]["approver"] != "carol" {
		t.Errorf("approval.granted entries %v, want one by carol", granted)
	}
	if finished := auditData(t, st, bot.ActionDeployFinished); len(finished) != 1 || finished[0]["release"] != live {
		t.Errorf("deploy.finished %v, want release %s", finished, live)
	}
	rep, err := audit.Verify(context.Background(), st.DB(), w.verifier)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.UnsignedTail != 0 || !rep.HasCheckpoint {
		t.Errorf("verify: ok %v, unsigned tail %d, checkpoint %v: %v", rep.OK, rep.UnsignedTail, rep.HasCheckpoint, rep.Problem)
	}
}

// blockStrings is every string in blocks, one a line, mrkdwn as sent.
func blockStrings(t *testing.T, blocks json.RawMessage) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(blocks, &v); err != nil {
		t.Fatalf("blocks are not JSON: %v", err)
	}
	var lines []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			lines = append(lines, x)
		case []any:
			for _, e := range x {
				walk(e)
			}
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return strings.Join(lines, "\n")
}

func auditString(v any) string {
	s, _ := v.(string)
	return s
}
