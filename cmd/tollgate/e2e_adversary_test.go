package main

// Issue 10: the controls hold against an adversary. Each test starts where
// the attacker starts (a signed Slack request, a signed webhook, a
// browser) and goes through the real serve assembly.

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/store"
)

// requestFor waits for the request of sha on production and returns it.
func (w *slackE2E) requestFor(t *testing.T, sha string, states ...bot.State) bot.Request {
	t.Helper()
	var found bot.Request
	waitFor(t, "a request for "+sha[:7]+" in "+fmt.Sprint(states), func() bool {
		st, err := store.OpenReadOnly(context.Background(), w.dbPath)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		rs, err := st.ListRequests(context.Background(), bot.RequestFilter{Repo: e2eRepo, Environment: "production", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			for _, s := range states {
				if r.SHA == sha && r.State == s {
					found = r
					return true
				}
			}
		}
		return false
	})
	return found
}

// toldContaining waits for a message only p sees that contains want.
func (w *slackE2E) toldContaining(t *testing.T, p slackE2EPerson, want string) string {
	t.Helper()
	var got string
	waitFor(t, fmt.Sprintf("%s to be told %q", p.login, want), func() bool {
		for _, e := range w.sl.Ephemerals(p.slackID) {
			if strings.Contains(e.Text, want) {
				got = e.Text
				return true
			}
		}
		return false
	})
	return got
}

// Defect 2: a commit that only passed through a reviewed PR (a
// "backdoor" its final head reverted) is not reviewed: /deploy of it is
// refused, naming the merge commit to deploy instead. An approval by
// someone without write access does not count. The merge of the reviewed
// head, one fact away, passes the same check.
func TestServeReviewCoversOnlyTheReviewedCommits(t *testing.T) {
	w := newSlackE2E(t)
	backdoor, revert, merged := fakeSHA("#30 backdoor"), fakeSHA("#30 revert"), fakeSHA("#30 merge")
	gh := w.gh
	gh.AddPullRequest(e2eRepo, githubtest.PullRequest{Number: 30, Title: "Tidy checkout", Author: "bob",
		HeadSHA: revert, Commits: []string{backdoor}, Base: "main"})
	gh.AddReview(e2eRepo, 30, githubtest.Review{User: "dave", State: "APPROVED"})
	gh.MergePullRequest(e2eRepo, 30, merged, "alice")
	clean := map[string]string{"index.html": "<h1>shop v3</h1>\n", "bin/health": "#!/bin/sh\ngrep -q v3 index.html\n"}
	for sha, files := range map[string]map[string]string{revert: clean, merged: clean,
		backdoor: {"index.html": "<h1>shop v3</h1>\n", "bin/health": "#!/bin/sh\ngrep -q v3 index.html\n", "pay.php": "<?php exfiltrate();"}} {
		if err := gh.SetTarball(e2eRepo, sha, files); err != nil {
			t.Fatal(err)
		}
		gh.SetStatus(e2eRepo, sha, "build", "success")
	}
	// PR #31 is approved only by erin, who can read the repository but not push.
	readerHead, readerMerge := fakeSHA("#31 head"), fakeSHA("#31 merge")
	gh.AddOrgMember("acme", "erin", "member")
	gh.AddPullRequest(e2eRepo, githubtest.PullRequest{Number: 31, Title: "Copy", Author: "bob", HeadSHA: readerHead, Base: "main"})
	gh.AddReview(e2eRepo, 31, githubtest.Review{User: "erin", State: "APPROVED"})
	gh.MergePullRequest(e2eRepo, 31, readerMerge, "alice")
	gh.SetStatus(e2eRepo, readerMerge, "build", "success")

	w.start(t)
	w.link(t, slackAlice)

	w.slash(t, slackAlice, "production "+backdoor)
	told := w.toldContaining(t, slackAlice, "is not a reviewed commit of PR #30")
	if !strings.Contains(told, "deploy "+merged[:7]+" instead") {
		t.Errorf("alice was told %q, which does not name the merge commit %s", told, merged[:7])
	}
	r := w.requestFor(t, backdoor, bot.StateRejected)
	if c, _ := r.Decision.Check(bot.CheckPRReview); c.Outcome != bot.OutcomeFail {
		t.Errorf("the decision's pr_review check is %+v, want failed", c)
	}

	w.slash(t, slackAlice, "production "+readerMerge)
	w.toldContaining(t, slackAlice, "(approvals by erin do not count: no write access to "+e2eRepo+")")
	w.requestFor(t, readerMerge, bot.StateRejected)

	// The control: the merge of the reviewed head passes the review check
	// and waits for its approval.
	w.slash(t, slackAlice, "production "+merged)
	ok := w.requestFor(t, merged, bot.StateAwaitingApproval)
	if c, _ := ok.Decision.Check(bot.CheckPRReview); c.Outcome != bot.OutcomePass {
		t.Errorf("the merge's pr_review check is %+v, want passed", c)
	}
	if ds := w.gh.Deployments(e2eRepo); len(ds) != 0 {
		t.Errorf("%d GitHub deployments, want none", len(ds))
	}
	for i := range w.roots {
		if got := releasesIn(t, w.roots[i]); got.current != "" {
			t.Errorf("production server %d runs %q", i, got.current)
		}
	}
}

// Defect 5: the PR author cannot sign off the emergency deploy of their
// own PR, even as an approver; another approver can.
func TestServeEmergencyReviewerIsNotThePRAuthor(t *testing.T) {
	w := newSlackE2E(t)
	w.gh.SetTeamMember("acme", "oncall", "alice", "")
	writeTestFile(t, w.configPath, strings.Replace(readTestFile(t, w.configPath),
		"        required_approvals: 1\n", "        required_approvals: 1\n        emergency:\n          teams: [oncall]\n", 1))
	w.start(t)
	for _, p := range []slackE2EPerson{slackAlice, slackBob, slackCarol} {
		w.link(t, p)
	}
	w.slash(t, slackAlice, "emergency production main INC-7 checkout is down")
	r := w.requestFor(t, sha('c'), bot.StateSucceeded)

	var msg slacktest.Message
	waitFor(t, "the emergency review message", func() bool {
		for _, m := range w.sl.Messages(slackE2EChannel) {
			if _, _, ok := slacktest.Button(m.Blocks, slackint.ActionReviewAcceptable); ok {
				msg = m
				return true
			}
		}
		return false
	})
	w.click(t, slackBob, msg.TS, slackint.ActionReviewAcceptable, "Acceptable")
	w.toldContaining(t, slackBob, "you wrote PR #4, which emergency change "+r.ID+" deployed")
	w.click(t, slackCarol, msg.TS, slackint.ActionReviewAcceptable, "Acceptable")
	waitFor(t, "carol's review to be recorded", func() (done bool) {
		w.withDB(t, func(st *store.Store) { done = len(auditOf(t, st, r.ID, bot.ActionEmergencyReviewed)) == 1 })
		return done
	})
	st := w.openDB(t)
	refused := auditOf(t, st, r.ID, bot.ActionActionRefused)
	if len(refused) != 1 || refused[0]["code"] != string(bot.CodeAuthorReview) {
		t.Errorf("refusals of %s: %v, want bob's author_review", r.ID, refused)
	}
	if rev := auditOf(t, st, r.ID, bot.ActionEmergencyReviewed); rev[0]["reviewer"] != "carol" {
		t.Errorf("emergency.reviewed %v, want carol", rev[0])
	}
}

// sendBody posts body, signed with the webhook secret, as a new delivery
// of event and wants it accepted.
func (e *e2e) sendBody(t *testing.T, event string, body []byte) {
	t.Helper()
	resp, err := e.gh.SendWebhook(context.Background(), e.url("/webhooks/github"), e2eSecret, event, body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%s webhook answered %d, want 202", event, resp.StatusCode)
	}
}

// inboxSettled waits until every stored delivery was handled.
func (e *e2e) inboxSettled(t *testing.T) {
	t.Helper()
	waitFor(t, "every delivery to be handled", func() bool {
		var pending int
		e.withDB(t, func(st *store.Store) {
			if err := st.DB().QueryRow(`SELECT count(*) FROM inbox WHERE state = 'pending'`).Scan(&pending); err != nil {
				t.Fatal(err)
			}
		})
		return pending == 0
	})
}

// Defect 6: a captured, signed "labeled" body sent again under new
// X-GitHub-Delivery ids creates no new request; a label event for a head
// the PR has moved on from is refused, and nothing is deployed.
func TestServeLabelReplayDeploysNothingNew(t *testing.T) {
	w := newRefusalWorld(t)
	w.start(t)
	w.openPR(t, 40)
	w.gh.SetLabels(e2eRepo, 40, "deploy:preview")
	captured, err := w.gh.Payloads().PullRequestLabeled(e2eRepo, 40, "deploy:preview", "alice")
	if err != nil {
		t.Fatal(err)
	}
	body, err := captured.JSON()
	if err != nil {
		t.Fatal(err)
	}
	// A second label event for the same head that was never delivered
	// (alice removed the label and added it again a minute later): an
	// attacker's capture, or GitHub's late retry.
	late, err := w.gh.Payloads().PullRequestLabeled(e2eRepo, 40, "deploy:preview", "alice")
	if err == nil {
		err = late.Set("pull_request.updated_at", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
	}
	if err != nil {
		t.Fatal(err)
	}
	w.sendBody(t, "pull_request", body)
	first, _ := w.requestComment(t, 40)
	for range 3 {
		w.sendBody(t, "pull_request", body) // replays, each under a new delivery id
	}
	w.inboxSettled(t)
	st := w.openDB(t)
	rs, err := st.ListRequests(context.Background(), bot.RequestFilter{Repo: e2eRepo, Environment: "preview", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].ID != first {
		t.Fatalf("%d preview requests after 3 replays, want only %s: %+v", len(rs), first, rs)
	}

	w.pushToPR(t, 40, 2)
	w.deliver(t, late, nil)
	w.inboxSettled(t)
	var stale []bot.Request
	rs, _ = w.openDB(t).ListRequests(context.Background(), bot.RequestFilter{Repo: e2eRepo, Environment: "preview", Limit: 100})
	for _, r := range rs {
		if r.ID != first {
			stale = append(stale, r)
		}
	}
	if len(stale) != 1 || stale[0].State != bot.StateRejected || stale[0].Decision == nil || stale[0].Decision.Code != bot.CodeStaleSHA {
		t.Fatalf("the late label made %+v, want one request rejected for stale_sha", stale)
	}
	if !strings.Contains(stale[0].Decision.Reason, "PR #40's head is now "+prCommit(40, 2)[:7]) {
		t.Errorf("refusal reads %q", stale[0].Decision.Reason)
	}
	if got := releasesIn(t, w.previewRoot); got.current != "" {
		t.Errorf("preview runs %q, want nothing deployed", got.current)
	}
}

// Defect 11: anonymous /login requests (each starts a sign-in) never lock
// members out: after 2,500 of them a member still signs in and sees the
// pages.
func TestServeLoginFloodDoesNotLockMembersOut(t *testing.T) {
	e := newE2E(t, e2eOptions{webLogin: true})
	e.start(t)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := range 2500 {
		resp, err := noFollow.Get(e.url("/login?next=%2Faudit"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("anonymous /login %d answered %d, want a redirect to GitHub", i+1, resp.StatusCode)
		}
	}
	code, page, at := e.browse(t, "alice", "/environments")
	if code != http.StatusOK || at.Path != "/environments" || !strings.Contains(page, "@alice") {
		t.Fatalf("alice's sign-in after the flood ended at %s with %d:\n%s", at, code, page)
	}
}

// Defect 3: an approved request that waited in the queue while its
// approval expired does not deploy on that approval: when its turn comes
// it goes back to awaiting approval, audited and told on the PR.
func TestServeQueuedRequestWithAnExpiredApprovalDoesNotDeploy(t *testing.T) {
	w := newRefusalWorld(t)
	gate := filepath.Join(t.TempDir(), "go-ahead")
	// Preview deploys wait at before_switch until the test lets them go,
	// so the second request waits in the queue behind the first.
	cfg := strings.Replace(readTestFile(t, w.configPath), "        path: "+w.previewRoot+"\n",
		"        path: "+w.previewRoot+"\n        hooks:\n          before_switch: ["+
			jsonString("while [ ! -e "+gate+" ]; do sleep 0.1; done")+"]\n", 1)
	writeTestFile(t, w.configPath, cfg)
	w.startWithClock(t, w.clock.Now)

	first := w.awaitApproval(t, 50)
	w.postCommand(t, 50, "carol", "/approve "+first)
	waitFor(t, "the first preview deploy to start", func() bool {
		return w.request(t, first).State == bot.StateRunning
	})
	second := w.awaitApproval(t, 51)
	w.postCommand(t, 51, "carol", "/approve "+second)
	waitFor(t, "the second request to be queued behind the first", func() bool {
		return w.request(t, second).State == bot.StateQueued
	})
	w.clock.Advance(refusalTTL + time.Minute) // carol's approval of the second expires in the queue
	writeTestFile(t, gate, "")

	waitFor(t, "the second request to leave the queue", func() bool {
		return w.request(t, second).State != bot.StateQueued
	})
	r := w.request(t, second)
	if r.State != bot.StateAwaitingApproval || !strings.Contains(r.StateReason, "carol's approval expired") {
		t.Fatalf("the second request is %s (%q), want back to awaiting approval for carol's expired approval", r.State, r.StateReason)
	}
	st := w.openDB(t)
	if got := auditOf(t, st, second, bot.ActionPolicyRechecked); len(got) != 1 || got[0]["to"] != string(bot.StateAwaitingApproval) {
		t.Errorf("policy.rechecked of %s: %v", second, got)
	}
	if got := auditOf(t, st, second, bot.ActionDeployStarted); len(got) != 0 {
		t.Errorf("the second request started a deploy: %v", got)
	}
	waitFor(t, "the PR to show the request waiting for approval again", func() bool {
		_, body := w.requestComment(t, 51)
		return strings.Contains(body, "is waiting for approval")
	})
	if d := releasesIn(t, w.previewRoot); strings.HasSuffix(d.current, prCommit(51, 1)[:7]) {
		t.Errorf("preview runs the second request's commit %s", d.current)
	}
}

// request reads request id from the database while serve runs.
func (e *e2e) request(t *testing.T, id string) bot.Request {
	t.Helper()
	var r bot.Request
	e.withDB(t, func(st *store.Store) {
		var err error
		if r, err = st.Request(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	})
	return r
}

// withDB runs fn on a read-only view of the database, closed afterwards,
// for checks repeated while waiting.
func (e *e2e) withDB(t *testing.T, fn func(st *store.Store)) {
	t.Helper()
	st, err := store.OpenReadOnly(context.Background(), e.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fn(st)
}

// Also checked (real): team membership followed the login recorded when
// a Slack user linked, so after mallory renamed herself away and an
// approver took her old login, her clicks counted as the approver's.
// Checks now follow the numeric GitHub id.
func TestServeRenamedLoginGrantsNothing(t *testing.T) {
	w := newSlackE2E(t)
	mallory := slackE2EPerson{"mallory", "U0MALLORY"}
	w.sl.AddUser(mallory.slackID, mallory.login)
	id := w.gh.AddUser("mallory")
	st, err := store.Open(context.Background(), w.dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l := bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: w.sl.TeamID(), User: mallory.slackID},
		GitHubLogin: "mallory", GitHubID: id}
	if err := st.SaveLink(context.Background(), l, bot.AuditEvent{Actor: "mallory", Action: bot.ActionIdentityLinked, Subject: l.Chat.String()}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	// Later: mallory renames her account; carol, an approver, takes the login.
	if err := w.gh.RenameUser("mallory", "mallory-old"); err != nil {
		t.Fatal(err)
	}
	if err := w.gh.RenameUser("carol", "mallory"); err != nil {
		t.Fatal(err)
	}
	w.start(t)
	w.link(t, slackAlice)
	w.slash(t, slackAlice, "production")
	msg := w.approvalMessage(t)
	w.click(t, mallory, msg.TS, slackint.ActionApprove, "Approve")
	w.toldContaining(t, mallory, "only members of acme/approvers may approve deploys to production, and mallory is not an active member")
	r := w.requestFor(t, sha('c'), bot.StateAwaitingApproval)
	if len(r.Approvals) != 0 {
		t.Errorf("approvals %+v, want none", r.Approvals)
	}
}

// unsignedBody opens a raw connection to serve and sends a webhook's
// headers (a wrong signature, 25 MB declared) and n bytes of body,
// without ever finishing it. It returns the connection, and a channel
// closed once the n bytes were written.
func unsignedBody(t *testing.T, addr string, n int) (c net.Conn, sent <-chan struct{}) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /webhooks/github HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"X-GitHub-Event: ping\r\nX-GitHub-Delivery: d\r\nX-Hub-Signature-256: sha256=00\r\nContent-Length: %d\r\n\r\n",
		addr, 25<<20)
	done := make(chan struct{})
	go func() { _, _ = c.Write(make([]byte, n)); close(done) }() // blocks while the server does not read
	return c, done
}

// Also checked (real): every unauthenticated POST /webhooks/github could
// make the server hold up to 25 MB before its signature was checked, with
// no bound on how many at once. Two clients holding 20 MB each spend the
// budget for unverified bodies: a third is answered 503 at once instead
// of being read; once they go, signed deliveries are accepted again.
func TestServeUnverifiedBodiesAreBounded(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	e.start(t)
	// The two bodies fill the 64 MB budget exactly once the server has
	// read past 16 MB of each (it holds a body in a buffer that doubles),
	// which takes a while on a loaded machine; a third request arriving
	// before that takes budget the second still needs and gets the second
	// refused instead. So the third (headers only) comes after both were
	// sent, and if it is not answered at once the round starts over with
	// two new bodies. Without a budget no round ever ends in a 503.
	for round := 1; ; round++ {
		first, sentFirst := unsignedBody(t, e.addr, 20<<20)
		second, sentSecond := unsignedBody(t, e.addr, 20<<20)
		<-sentFirst
		<-sentSecond
		time.Sleep(time.Second) // what the socket buffers still hold
		third, _ := unsignedBody(t, e.addr, 0)
		_ = third.SetReadDeadline(time.Now().Add(3 * time.Second))
		status, err := bufio.NewReader(third).ReadString('\n')
		third.Close()
		first.Close()
		second.Close()
		if err == nil && strings.Contains(status, " 503 ") {
			break
		}
		if err == nil || round == 5 {
			t.Fatalf("round %d, the third unverified body: %q, %v; want 503 at once", round, status, err)
		}
	}
	waitFor(t, "a signed delivery to be accepted again", func() bool {
		return e.sendMerge(t, githubtest.NewDeliveryID()) == http.StatusAccepted
	})
}

// Defect 1: a /deploy link URL forwarded to someone else links nothing.
// alice runs /deploy link and sends the URL to carol, an approver; carol
// opens it, signed in to Slack and GitHub as herself: Sign in with Slack
// says she is not alice, the page says why, nothing is linked, and the
// attempt is audited. alice's own run links her, the channel is told who
// is now whom, and the audit entry records both proofs.
func TestServeForwardedLinkLinksNothing(t *testing.T) {
	w := newSlackE2E(t)
	w.start(t)
	forwarded := w.linkURL(t, slackAlice)
	code, page, _ := w.openLink(t, forwarded, slackCarol.slackID, slackCarol.login)
	if code != http.StatusForbidden || !strings.Contains(page, "this link was made for another Slack user") {
		t.Fatalf("carol opening alice's link: %d\n%s", code, page)
	}
	w.withDB(t, func(st *store.Store) {
		for _, p := range []slackE2EPerson{slackAlice, slackCarol} {
			_, err := st.LinkFor(context.Background(), bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: w.sl.TeamID(), User: p.slackID})
			if err == nil {
				t.Errorf("%s got linked by carol opening alice's link", p.login)
			}
		}
		refused := auditDataWhere(t, st, `action = ? AND instr(data, ?) > 0`, bot.ActionActionRefused, `"code":"link_other_user"`)
		if len(refused) != 1 || refused[0]["signed_in_as"] != w.sl.TeamID()+"/"+slackCarol.slackID ||
			refused[0]["slack_user"] != w.sl.TeamID()+"/"+slackAlice.slackID {
			t.Errorf("refusals audited: %v, want one naming alice's link and carol's sign-in", refused)
		}
	})

	w.link(t, slackAlice)
	waitFor(t, "the new link announced in the deploy channel", func() bool {
		for _, m := range w.sl.Messages(slackE2EChannel) {
			if strings.Contains(m.Text, "<@"+slackAlice.slackID+">") && strings.Contains(m.Text, "GitHub user *alice*") {
				return true
			}
		}
		return false
	})
	w.withDB(t, func(st *store.Store) {
		linked := auditData(t, st, bot.ActionIdentityLinked)
		if len(linked) != 1 || linked[0]["github_login"] != "alice" {
			t.Fatalf("identity.linked entries %v, want alice's", linked)
		}
		proofs, _ := linked[0]["proofs"].([]any)
		var methods []string
		for _, p := range proofs {
			m, _ := p.(map[string]any)
			methods = append(methods, fmt.Sprint(m["side"], ":", m["method"], ":", m["account"]))
		}
		want := []string{"chat:slack_openid_connect:" + w.sl.TeamID() + "/" + slackAlice.slackID, "github:github_oauth_pkce:alice"}
		if strings.Join(methods, " ") != strings.Join(want, " ") {
			t.Errorf("proofs %v, want %v", methods, want)
		}
	})
}
