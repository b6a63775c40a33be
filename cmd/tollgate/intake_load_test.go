package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/internal/demo"
	"github.com/tollgate-dev/tollgate/store"
)

// loadPR is the pull request the load's GitHub deliveries are about.
const loadPR = 50

// loadWorld is the demo's world (fake GitHub and Slack, in-process SSH
// targets, the demo's generated tollgate.yml) served by child `tollgate
// serve` processes (one on SQLite, or replicas on PostgreSQL), with every
// demo person's Slack account linked to GitHub so their slash commands are
// persisted rather than refused.
type loadWorld struct {
	world       *demo.World
	children    []*serveChild
	dbPath      string // the SQLite file or the postgres:// URL
	hookSecret  string
	slackSecret string
	// Bodies reused by every GitHub delivery (each gets its own delivery id,
	// as GitHub sends one event to many installations).
	synchronize, labeled []byte
}

// startLoadWorld serves the load world with one `tollgate serve` on the
// demo's SQLite database.
func startLoadWorld(tb testing.TB) *loadWorld {
	tb.Helper()
	return startLoadWorldOn(tb, "", 1)
}

// startLoadWorldOn serves the load world with replicas `tollgate serve`
// processes on the PostgreSQL database at dsn (one process on the demo's
// SQLite file when dsn is ""). The replicas share the configuration file,
// each listening on the address in its environment, as in docs/ha.md.
func startLoadWorldOn(tb testing.TB, dsn string, replicas int) *loadWorld {
	tb.Helper()
	ctx := context.Background()
	dir := tb.TempDir()
	addr := freeLoopbackAddr(tb)
	world, err := demo.StartWorld(ctx, dir, addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(world.Close)
	cfgPath := world.ConfigPath
	w := &loadWorld{world: world, dbPath: world.Config.Database, hookSecret: world.GitHub.WebhookSecret(), slackSecret: world.SigningSecret}
	if dsn != "" {
		moveConfigToPostgres(tb, cfgPath, dsn, "")
		w.dbPath = dsn
	}

	st, err := store.Open(ctx, w.dbPath, store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	cast := demo.Cast()
	for _, p := range cast {
		l := bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: world.Slack.TeamID(), User: p.SlackID}, GitHubLogin: p.Login,
			GitHubID: world.GitHub.UserID(p.Login), LinkedAt: time.Now()}
		if err := st.SaveLink(ctx, l, bot.AuditEvent{Actor: p.Login, Action: bot.ActionIdentityLinked, Subject: p.SlackID}); err != nil {
			tb.Fatal(err)
		}
	}
	st.Close()

	gh := world.GitHub
	gh.AddPullRequest(demo.Repo, githubtest.PullRequest{Number: loadPR, Title: "Load", Author: cast[0].Login,
		HeadSHA: sha('d'), Base: "main"})
	synchronize, err := gh.Payloads().PullRequestSynchronize(demo.Repo, loadPR, sha('d'), sha('e'), cast[0].Login)
	if err != nil {
		tb.Fatal(err)
	}
	labeled, err := gh.Payloads().PullRequestLabeled(demo.Repo, loadPR, "needs-review", cast[1].Login)
	if err != nil {
		tb.Fatal(err)
	}
	if w.synchronize, err = synchronize.JSON(); err != nil {
		tb.Fatal(err)
	}
	if w.labeled, err = labeled.JSON(); err != nil {
		tb.Fatal(err)
	}
	if dsn != "" {
		w.children = startReplicas(tb, cfgPath, replicas)
		return w
	}
	w.children = []*serveChild{newServeChild(tb, cfgPath, addr)}
	w.children[0].start(tb)
	return w
}

// urls are the base URLs of the world's serve processes.
func (w *loadWorld) urls() []string {
	var out []string
	for _, c := range w.children {
		out = append(out, c.url(""))
	}
	return out
}

// logTail is the end of every serve process's log.
func (w *loadWorld) logTail() string {
	var b strings.Builder
	for i, c := range w.children {
		fmt.Fprintf(&b, "--- serve %d (%s)\n%s\n", i, c.addr, c.logTail())
	}
	return b.String()
}

// intakeRequest is one signed request of a load round. A resend carries
// the same body and delivery id as an earlier request of the round.
type intakeRequest struct {
	source string // inbox source: "github" or "slack"
	key    string // the delivery id it must be stored under
	path   string
	header http.Header
	body   []byte
	resend bool
}

// planIntakeRound builds n signed deliveries, half GitHub webhooks and
// half Slack /deploy commands, and resends every resendEvery-th of them
// (same X-GitHub-Delivery; same Slack body with X-Slack-Retry-Num). All
// are sent at once, so a resend races its original.
func (w *loadWorld) planIntakeRound(n, resendEvery int) []intakeRequest {
	var reqs []intakeRequest
	signer := slacktest.Signer{Secret: w.slackSecret}
	for i := range n {
		var r intakeRequest
		if i%2 == 0 {
			event, body := "pull_request", w.synchronize
			if i%4 == 0 {
				body = w.labeled
			}
			r = intakeRequest{source: "github", key: githubtest.NewDeliveryID(), path: "/webhooks/github", body: body, header: http.Header{}}
			r.header.Set("Content-Type", "application/json")
			r.header.Set("User-Agent", "GitHub-Hookshot/load")
			r.header.Set("X-GitHub-Event", event)
			r.header.Set("X-GitHub-Delivery", r.key)
			r.header.Set("X-Hub-Signature-256", githubtest.SignatureSHA256(w.hookSecret, body))
		} else {
			cast := demo.Cast()
			p := cast[i/2%len(cast)]
			body := slacktest.SlashCommandBody(slacktest.SlashCommandParams{TeamID: w.world.Slack.TeamID(),
				UserID: p.SlackID, UserName: p.Login, ChannelID: demo.Channel, ChannelName: demo.ChannelName,
				Text: "production", ResponseURL: w.world.Slack.NewResponseURL()})
			sum := sha256.Sum256(body)
			r = intakeRequest{source: "slack", key: "sha256:" + hex.EncodeToString(sum[:]), path: "/slack/commands",
				body: body, header: signer.Headers(body)}
			r.header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		reqs = append(reqs, r)
		// Resend both requests of every resendEvery-th GitHub+Slack pair.
		if resendEvery > 0 && (i/2)%resendEvery == resendEvery-1 {
			again := r
			again.resend, again.header = true, r.header.Clone()
			if r.source == "slack" {
				again.header.Set(slacktest.HeaderRetryNum, "1")
				again.header.Set(slacktest.HeaderRetryReason, "http_timeout")
			}
			reqs = append(reqs, again)
		}
	}
	return reqs
}

// intakeResult is what one request got back, and how long it took.
type intakeResult struct {
	status  int
	latency time.Duration
	err     error
}

// sendIntakeRound sends every request at once (each goroutine waits on
// one start signal), request i to bases[i%len(bases)] (a load balancer's
// round robin; a resend follows its original, so with several replicas it
// races it on another one), each on its own connection as GitHub and
// Slack send them, and returns each request's result.
func sendIntakeRound(bases []string, reqs []intakeRequest) []intakeResult {
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	results := make([]intakeResult, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, r := range reqs {
		wg.Go(func() {
			req, err := http.NewRequest(http.MethodPost, bases[i%len(bases)]+r.path, bytes.NewReader(r.body))
			if err != nil {
				results[i].err = err
				return
			}
			req.Header = r.header.Clone()
			<-start
			began := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				results[i] = intakeResult{err: err, latency: time.Since(began)}
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results[i] = intakeResult{status: resp.StatusCode, latency: time.Since(began)}
		})
	}
	close(start)
	wg.Wait()
	return results
}

// checkIntakeRound fails unless every request was acknowledged, each
// GitHub delivery id got exactly one 202 (the other send: 200 "already
// received"), and the inbox holds every delivery of every round so far
// exactly once and nothing else. want collects the keys of every round so far.
func checkIntakeRound(tb testing.TB, dbPath string, reqs []intakeRequest, results []intakeResult, want map[string]bool) {
	tb.Helper()
	accepted := map[string]int{}
	refused := 0
	for i, r := range reqs {
		res := results[i]
		bad := ""
		switch {
		case res.err != nil:
			bad = res.err.Error()
		case r.source == "github" && res.status != http.StatusAccepted && res.status != http.StatusOK,
			r.source == "slack" && res.status != http.StatusOK:
			bad = "status " + strconv.Itoa(res.status)
		}
		if bad != "" {
			if refused++; refused <= 5 {
				tb.Errorf("%s %s (resend %v): %s", r.source, r.key, r.resend, bad)
			}
		}
		if r.source == "github" && res.status == http.StatusAccepted {
			accepted[r.key]++
		}
		want[r.source+" "+r.key] = true
	}
	if refused > 0 {
		tb.Errorf("%d of %d requests not acknowledged", refused, len(reqs))
	}
	for _, r := range reqs {
		if r.source == "github" && !r.resend && accepted[r.key] != 1 {
			tb.Errorf("github delivery %s acknowledged as new %d times, want once", r.key, accepted[r.key])
		}
	}
	st, err := store.OpenReadOnly(context.Background(), dbPath)
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	rows, err := st.DB().Query(`SELECT source, delivery_id, count(*) FROM inbox GROUP BY source, delivery_id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	have := map[string]int{}
	for rows.Next() {
		var source, id string
		var n int
		if err := rows.Scan(&source, &id, &n); err != nil {
			tb.Fatal(err)
		}
		have[source+" "+id] = n
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	missing := 0
	for k := range want {
		if have[k] != 1 {
			missing++
			if missing <= 5 {
				tb.Errorf("inbox holds %d rows for %s, want 1", have[k], k)
			}
		}
	}
	for k := range have {
		if !want[k] {
			tb.Errorf("inbox holds %s, which was never sent", k)
		}
	}
	if missing > 0 {
		tb.Errorf("%d of %d deliveries not stored exactly once", missing, len(want))
	}
}

// TestWebhookIntakeUnderLoad sends concurrent signed GitHub deliveries and
// Slack commands, some resent at the same moment with the same id, to a
// `tollgate serve` process: each is acknowledged and stored exactly once.
// BenchmarkWebhookIntakeLoad is the same at 500 and measures latency.
func TestWebhookIntakeUnderLoad(t *testing.T) {
	w := startLoadWorld(t)
	reqs := w.planIntakeRound(100, 10)
	results := sendIntakeRound(w.urls(), reqs)
	checkIntakeRound(t, w.dbPath, reqs, results, map[string]bool{})
	if t.Failed() {
		t.Log(w.logTail())
	}
}
