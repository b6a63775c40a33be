package main

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"github.com/tollgate-dev/tollgate/server"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/store"
)

// offsetClock is wall time plus an offset a test moves forward: time
// keeps flowing (timeouts, backoffs), and a test can jump past a deadline.
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the clock's current time.
func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// startWithClock is start with now as the server's clock: it does what
// serve does (load the config, newServer, run) with an injected clock
// instead of time.Now. It returns once the server listens; stop stops it.
func (e *e2e) startWithClock(t *testing.T, now func() time.Time) {
	t.Helper()
	cfg, _, err := config.Load(e.configPath)
	if err != nil {
		t.Fatalf("loading %s: %v", e.configPath, err)
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(context.Background(), cfg, server.Options{Logger: log, Clock: now, Version: version})
	if err != nil {
		t.Fatalf("building the server: %v", err)
	}
	ln, err := e.listener()
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	grace := e.opts.grace
	if grace == 0 {
		grace = time.Minute
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan int, 1)
	ready := make(chan string, 1)
	go func() {
		defer srv.Close()
		err := srv.Run(ctx, server.RunOptions{ConfigPath: e.configPath, Workers: 2, ShutdownGrace: grace,
			Listener: ln, Ready: func(addr string) { ready <- addr }, Reload: e.reload})
		if err != nil {
			log.Error("serving", "err", err)
			e.done <- exitCheckFailed
			return
		}
		e.done <- exitOK
	}()
	select {
	case e.addr = <-ready:
	case code := <-e.done:
		t.Fatalf("server exited with %d before listening:\n%s", code, e.stderr.String())
	case <-time.After(e2eTimeout):
		t.Fatalf("server did not start:\n%s", e.stderr.String())
	}
	t.Cleanup(func() {
		if e.cancel != nil {
			e.stop(t)
		}
	})
}

// fakeSHA is a 40-hex commit SHA named after what it stands for.
func fakeSHA(name string) string {
	sum := sha1.Sum([]byte(name))
	return hex.EncodeToString(sum[:])
}

// deliver sends a built payload signed like GitHub, with a new delivery
// id, and wants it accepted for processing.
func (e *e2e) deliver(t *testing.T, p githubtest.Payload, buildErr error) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	resp, err := e.gh.SendPayload(context.Background(), e.url("/webhooks/github"), e2eSecret, p)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%s webhook answered %d, want 202", p.Event, resp.StatusCode)
	}
}

// requestMarker is how the App's PR comment about a request names it.
var requestMarker = regexp.MustCompile(`<!-- tollgate:request (\S+) -->`)

// requestComment waits for the App's comment about a request on PR number
// and returns the request's id and the comment as it reads now.
func (e *e2e) requestComment(t *testing.T, number int) (id, body string) {
	t.Helper()
	waitFor(t, "the App's request comment on PR #"+strconv.Itoa(number), func() bool {
		for _, c := range e.gh.IssueComments(e2eRepo, number) {
			if m := requestMarker.FindStringSubmatch(c.Body); m != nil && c.User == e.gh.AppSlug()+"[bot]" {
				id, body = m[1], c.Body
				return true
			}
		}
		return false
	})
	return id, body
}

// postCommand comments body on PR number as who, delivers the comment
// webhook and returns the comment's id.
func (e *e2e) postCommand(t *testing.T, number int, who, body string) int64 {
	t.Helper()
	id := e.gh.AddIssueComment(e2eRepo, number, who, body)
	if code := e.sendComment(t, id, githubtest.NewDeliveryID()); code != http.StatusAccepted {
		t.Fatalf("comment webhook answered %d, want 202", code)
	}
	return id
}

// appReply returns the App's reply to who on PR number written after
// comment after, if there is one yet.
func (e *e2e) appReply(number int, who string, after int64) (string, bool) {
	for _, c := range e.gh.IssueComments(e2eRepo, number) {
		if c.ID > after && c.User == e.gh.AppSlug()+"[bot]" && strings.HasPrefix(c.Body, "@"+who+" ") {
			return c.Body, true
		}
	}
	return "", false
}

// deployedReleases is what a deploy path on a server holds.
type deployedReleases struct {
	current string   // the release current points to, "" for none
	all     []string // every release directory, sorted
}

// releasesIn reads the releases under a deploy path.
func releasesIn(t *testing.T, root string) deployedReleases {
	t.Helper()
	var d deployedReleases
	l, err := os.Readlink(filepath.Join(root, "current"))
	switch {
	case err == nil:
		d.current = strings.TrimPrefix(l, "releases/")
	case !os.IsNotExist(err):
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(root, "releases"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	for _, en := range entries {
		d.all = append(d.all, en.Name())
	}
	sort.Strings(d.all)
	return d
}

// auditOf returns the data of the entries about subject with action.
func auditOf(t *testing.T, st *store.Store, subject, action string) []map[string]any {
	t.Helper()
	return auditDataWhere(t, st, `subject = ? AND action = ?`, subject, action)
}

// decidedCheck returns the check called name of a policy.decided entry.
func decidedCheck(decided map[string]any, name string) map[string]any {
	checks, _ := decided["checks"].([]any)
	for _, c := range checks {
		if m, ok := c.(map[string]any); ok && m["name"] == name {
			return m
		}
	}
	return nil
}

// prCommit is the i-th commit of PR #number.
func prCommit(number, i int) string {
	return fakeSHA(fmt.Sprintf("%s#%d commit %d", e2eRepo, number, i))
}

// mergeCommit is the merge commit of PR #number.
func mergeCommit(number int) string { return fakeSHA(fmt.Sprintf("%s#%d merge", e2eRepo, number)) }

// deployable gives commit a tree that deploys and passes staging's
// health check, so a deploy that should not happen shows on the server.
func (e *e2e) deployable(t *testing.T, commit string) {
	t.Helper()
	if err := e.gh.SetTarball(e2eRepo, commit, map[string]string{
		"index.html": "<h1>shop v2 at " + commit[:7] + "</h1>\n", "bin/health": "#!/bin/sh\ngrep -q v2 index.html\n",
	}); err != nil {
		t.Fatal(err)
	}
}

// openPR opens PR #number by bob with one commit, branched from main.
func (e *e2e) openPR(t *testing.T, number int) {
	t.Helper()
	e.gh.AddPullRequest(e2eRepo, githubtest.PullRequest{Number: number, Title: fmt.Sprintf("Change %d", number),
		Author: "bob", HeadSHA: prCommit(number, 1), Base: "main"})
	e.deployable(t, prCommit(number, 1))
}

// pushToPR adds PR #number's commit i as its new head, as bob pushing.
func (e *e2e) pushToPR(t *testing.T, number, i int) {
	t.Helper()
	e.gh.PushToPullRequest(e2eRepo, number, prCommit(number, i))
	e.deployable(t, prCommit(number, i))
}

// mergePR merges PR #number as merger, with CI state ci on the merge
// commit, and delivers the merge webhook.
func (e *e2e) mergePR(t *testing.T, number int, merger, ci string) {
	t.Helper()
	e.gh.MergePullRequest(e2eRepo, number, mergeCommit(number), merger)
	e.deployable(t, mergeCommit(number))
	e.gh.SetStatus(e2eRepo, mergeCommit(number), "ci/build", ci)
	p, err := e.gh.Payloads().PullRequestMerged(e2eRepo, number, mergeCommit(number), merger, "main")
	e.deliver(t, p, err)
}

// labelPR adds label to PR #number as who and delivers the webhook.
func (e *e2e) labelPR(t *testing.T, number int, label, who string) {
	t.Helper()
	e.gh.SetLabels(e2eRepo, number, label)
	p, err := e.gh.Payloads().PullRequestLabeled(e2eRepo, number, label, who)
	e.deliver(t, p, err)
}
