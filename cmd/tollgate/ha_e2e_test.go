package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// TestHAMergeDeploysStagingOnThreeReplicas is issue 4's end-to-end test on
// three `tollgate serve` replicas sharing one PostgreSQL (issue 12): the
// merge webhook and its redelivery reach random replicas; the deploy runs
// once, on one of them, and GitHub sees each status once; exactly one
// replica runs the singleton jobs; a browser's sign-in started on one
// replica finishes on another; signed in, it is signed in on every one and
// sees the deploy's log there (logs and sessions are in the database), and
// signing out on one signs out on all;
// the audit log, written by all three, verifies.
func TestHAMergeDeploysStagingOnThreeReplicas(t *testing.T) {
	e := newE2E(t, e2eOptions{webLogin: true})
	h := serveReplicas(t, e, 3)
	for i, c := range h.children {
		code, body, err := httpGetBody(c.url("/readyz"))
		if err != nil || code != 200 || !strings.Contains(body, "database: ok") || !strings.Contains(body, "replica: ok") {
			t.Fatalf("readyz of replica %d: %d %q %v", i, code, body, err)
		}
	}
	h.waitForOneLeader(t)
	for i := range h.children {
		if got := h.metric(t, i, "tollgate_replicas_alive"); got != "3" {
			t.Errorf("replica %d sees %q replicas alive, want 3", i, got)
		}
	}

	const delivery = "5f1c0c2e-0000-4000-8000-0000000000a1"
	if code := e.sendMerge(t, delivery); code != http.StatusAccepted {
		t.Fatalf("merge webhook answered %d, want 202", code)
	}
	if code := e.sendMerge(t, delivery); code != http.StatusOK {
		t.Errorf("redelivery to a random replica answered %d, want 200", code)
	}
	d := e.deployment(t, "success", "failure", "error")
	waitFor(t, "the PR comment's outcome", func() bool {
		cs := e.gh.IssueComments(e2eRepo, 4)
		return len(cs) > 0 && strings.Contains(cs[len(cs)-1].Body, "✅ Deployed")
	})
	if got, want := e.gh.DeploymentStatuses(e2eRepo, d.ID), []string{"queued", "in_progress", "success"}; !slices.Equal(got, want) {
		t.Fatalf("deployment statuses %v, want %v\n%s", got, want, h.logs())
	}
	if n := len(e.gh.Deployments(e2eRepo)); n != 1 {
		t.Errorf("%d GitHub deployments, want 1", n)
	}
	if cs := e.gh.IssueComments(e2eRepo, 4); len(cs) != 1 {
		t.Errorf("%d PR comments, want 1", len(cs))
	}
	live := e.current(t)
	if !strings.HasSuffix(live, "-"+sha('c')[:7]) {
		t.Fatalf("current release %q, want one of %s", live, sha('c')[:7])
	}
	final := d.Statuses[len(d.Statuses)-1]
	id := strings.TrimPrefix(final.LogURL, e2ePublic+"/deployments/")

	// Signed in, the browser is signed in on every replica, whose log page
	// shows the deploy that another replica may have run.
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	public, _ := url.Parse(e2ePublic)
	through := func(i int) *http.Client {
		return &http.Client{Jar: jar, Transport: publicURLTransport{public: public, addr: h.children[i].addr}, Timeout: time.Minute}
	}
	// The sign-in goes through the replicas in turn, as a load balancer
	// without sticky sessions would send it: /login reaches one replica,
	// GitHub's redirect to the callback another.
	var turn atomic.Int32
	rotating := &http.Client{Jar: jar, Timeout: time.Minute, Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		i := int(turn.Add(1)-1) % len(h.children)
		return publicURLTransport{public: public, addr: h.children[i].addr}.RoundTrip(r)
	})}
	e.gh.AuthorizeAs("alice")
	code, page := getPage(t, rotating, e2ePublic+"/deployments/"+id)
	e.gh.AuthorizeAs("")
	if code != http.StatusOK {
		t.Fatalf("log page after signing in through the replicas in turn: %d\n%s", code, page)
	}
	for _, i := range []int{1, 2} {
		code, page := getPage(t, through(i), e2ePublic+"/deployments/"+id)
		if code != http.StatusOK || !strings.Contains(page, `id="viewer">@alice (member)`) {
			t.Fatalf("log page through replica %d with replica 0's session: %d\n%s", i, code, page)
		}
		for _, want := range []string{`id="state">succeeded`, `<h2>File manifest</h2>`, "index.html"} {
			if !strings.Contains(page, want) {
				t.Errorf("log page through replica %d lacks %q", i, want)
			}
		}
	}
	req, _ := http.NewRequest(http.MethodPost, e2ePublic+"/logout", nil)
	req.Header.Set("Origin", e2ePublic)
	resp, err := through(1).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	noFollow := through(2)
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if code, _ := getPage(t, noFollow, e2ePublic+"/deployments/"+id); code != http.StatusFound {
		t.Errorf("log page through replica 2 after signing out on replica 1: %d, want 302 to the login", code)
	}

	h.stop(t)
	if n := auditCount(t, e, bot.ActionDeployStarted, id); n != 1 {
		t.Errorf("%d deploy.started entries, want 1", n)
	}
	if n := auditCount(t, e, bot.ActionDeployFinished, id); n != 1 {
		t.Errorf("%d deploy.finished entries, want 1", n)
	}
	if n := auditCount(t, e, "server.started", ""); n != 3 {
		t.Errorf("%d server.started entries, want one per replica", n)
	}
	if code, out, errOut := runCLI(t, "verify", "--config", e.configPath); code != exitOK {
		t.Errorf("tollgate verify on the replicas' database: exit %d\n%s%s", code, out, errOut)
	}
	if logs := h.logs(); strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("errors logged in a run that went well:\n%s", logs)
	}
}

// getPage fetches url with c and returns status and body.
func getPage(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestHASlackApprovalOnThreeReplicas is issue 5's approval flow on three
// replicas sharing one PostgreSQL, every command and click sent to a
// random replica: people link Slack to GitHub; alice asks for production;
// her own click and the PR author's are refused; carol's is accepted;
// both production servers get the release once; the thread, GitHub's
// statuses and the PR comment tell the story once each; the audit log
// holds the whole story and verifies.
func TestHASlackApprovalOnThreeReplicas(t *testing.T) {
	w := newSlackE2E(t)
	h := serveReplicas(t, w.e2e, 3)
	for _, p := range []slackE2EPerson{slackAlice, slackBob, slackCarol} {
		w.link(t, p)
	}
	if ack := w.slash(t, slackAlice, "production"); !strings.Contains(ack, "Working on") {
		t.Errorf("/deploy production was acknowledged with %q", ack)
	}
	msg := w.approvalMessage(t)
	_, value, _ := slacktest.Button(msg.Blocks, slackint.ActionApprove)
	id, _, _ := strings.Cut(value, ":")
	waitFor(t, "the request to record its Slack message", func() bool {
		return w.request(t, id).ExternalRefs[slackint.RefSlackTS] != ""
	})
	for _, who := range []slackE2EPerson{slackAlice, slackBob} {
		before := len(w.sl.Ephemerals(who.slackID))
		w.click(t, who, msg.TS, slackint.ActionApprove, "Approve")
		if got := w.ephemeral(t, who, before+1); !strings.Contains(got, "someone else must approve") {
			t.Errorf("%s was told %q", who.login, got)
		}
	}
	w.click(t, slackCarol, msg.TS, slackint.ActionApprove, "Approve")
	d := w.deployment(t, "success", "failure", "error")
	logLink := "<" + e2ePublic + "/deployments/" + id + "|Log>"
	var thread []string
	waitFor(t, "the result in the thread", func() bool {
		thread = w.threadTexts(msg.TS)
		return len(thread) > 0 && strings.Contains(thread[len(thread)-1], logLink)
	})
	waitFor(t, "the PR comment with the outcome", func() bool {
		for _, c := range w.gh.IssueComments(e2eRepo, 4) {
			if strings.Contains(c.Body, "tollgate:request "+id+" ") && strings.Contains(c.Body, "✅ Deployed") {
				return true
			}
		}
		return false
	})
	if got, want := w.gh.DeploymentStatuses(e2eRepo, d.ID), []string{"queued", "in_progress", "success"}; !slices.Equal(got, want) {
		t.Errorf("deployment statuses %v, want %v", got, want)
	}
	var kinds []string
	for _, line := range thread {
		switch {
		case strings.HasPrefix(line, ":hourglass_flowing_sand: Queued: approved by carol"):
			kinds = append(kinds, "queued")
		case strings.HasPrefix(line, ":rocket: Running:"):
			kinds = append(kinds, "running")
		case strings.HasPrefix(line, ":white_check_mark: Deployed `ccccccc` to production"):
			kinds = append(kinds, "succeeded")
		default:
			kinds = append(kinds, "other: "+line)
		}
	}
	if want := []string{"queued", "running", "succeeded"}; !slices.Equal(kinds, want) {
		t.Errorf("thread lines %v, want %v, each once", kinds, want)
	}
	var messages int
	for _, m := range w.sl.Messages(slackE2EChannel) {
		if strings.Contains(string(m.Blocks), id) {
			messages++
		}
	}
	if messages != 1 {
		t.Errorf("%d channel messages about %s, want 1", messages, id)
	}
	live := w.currentOn(t, 0)
	if other := w.currentOn(t, 1); other != live || !strings.HasSuffix(live, "-"+sha('c')[:7]) {
		t.Errorf("production runs %q and %q, want the same release of %s", live, other, sha('c')[:7])
	}
	h.stop(t)
	checkSlackE2EAudit(t, w, id, live)
	if logs := h.logs(); strings.Contains(logs, `"level":"ERROR"`) {
		t.Errorf("errors logged in a run that went well:\n%s", logs)
	}
}

// roundTripFunc is a function as an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

// RoundTrip implements http.RoundTripper.
func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
