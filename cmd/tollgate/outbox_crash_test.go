package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
)

// outboxRows counts the outbox's notifications of requestID that are
// pending, and those pending after a failed attempt.
func outboxRows(t *testing.T, dbPath, requestID string) (pending, failedOnce int) {
	t.Helper()
	st, err := store.OpenReadOnly(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.DB().QueryRow(`SELECT count(*), coalesce(sum(CASE WHEN attempts > 0 THEN 1 ELSE 0 END), 0)
		FROM outbox WHERE request_id = ? AND done_at = 0`, requestID).Scan(&pending, &failedOnce)
	if err != nil {
		t.Fatal(err)
	}
	return pending, failedOnce
}

// TestServeOutboxDeliversOnceAcrossACrash: a merge deploys to staging
// while GitHub refuses every deployment and comment write, so each
// notification of the request waits in the outbox (written with its
// transition). tollgate serve is SIGKILLed after the request finished and
// before any notification got through. After a restart, with GitHub
// healthy again, the deployment, its statuses and the PR comment appear
// exactly once each, in lifecycle order.
func TestServeOutboxDeliversOnceAcrossACrash(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	e.listen = freeLoopbackAddr(t)
	e.writeConfig(t, "")
	e.gh.FailNext(http.MethodPost, "/repos/*/*/deployments", http.StatusInternalServerError, 1_000_000)
	e.gh.FailNext(http.MethodPost, "/repos/*/*/issues/*/comments", http.StatusInternalServerError, 1_000_000)
	child := newServeChild(t, e.configPath, e.listen)
	child.start(t)

	p, err := e.gh.Payloads().PullRequestMerged(e2eRepo, 4, sha('c'), "alice", "main")
	if err != nil {
		t.Fatal(err)
	}
	body, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := e.gh.SendWebhookDelivery(context.Background(), child.url("/webhooks/github"), e2eSecret, p.Event,
		"5f1c0c2e-0000-4000-8000-0000000000b1", body)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("merge webhook answered %d, want 202", resp.StatusCode)
	}

	var r bot.Request
	waitFor(t, "the request to finish with its notifications stuck in the outbox", func() bool {
		done := requestsIn(t, e.dbPath, bot.StateSucceeded, bot.StateFailed, bot.StateRolledBack)
		if len(done) != 1 {
			return false
		}
		r = done[0]
		pending, failedOnce := outboxRows(t, e.dbPath, r.ID)
		// queued, running and finished are waiting; the first has failed.
		return pending == 3 && failedOnce >= 1
	})
	if r.State != bot.StateSucceeded {
		t.Fatalf("request %s is %s, want succeeded\n%s", r.ID, r.State, child.logTail())
	}
	child.kill(t)
	if ds, cs := e.gh.Deployments(e2eRepo), e.gh.IssueComments(e2eRepo, 4); len(ds) != 0 || len(cs) != 0 {
		t.Fatalf("GitHub got %d deployments and %d comments while refusing them", len(ds), len(cs))
	}

	e.gh.ClearFaults()
	child.start(t)
	waitFor(t, "the outbox to drain after the restart", func() bool {
		pending, _ := outboxRows(t, e.dbPath, r.ID)
		return pending == 0
	})
	if err := child.terminate(t); err != nil {
		t.Fatalf("serve exited with %v, want 0\n%s", err, child.logTail())
	}

	ds := e.gh.Deployments(e2eRepo)
	if len(ds) != 1 {
		t.Fatalf("%d deployments after the restart, want exactly 1: %+v", len(ds), ds)
	}
	if got, want := e.gh.DeploymentStatuses(e2eRepo, ds[0].ID), []string{"queued", "in_progress", "success"}; !slices.Equal(got, want) {
		t.Errorf("deployment statuses %v, want %v once each, in order", got, want)
	}
	if comments := e.gh.IssueComments(e2eRepo, 4); len(comments) != 1 {
		t.Errorf("%d PR comments, want Tollgate's one: %+v", len(comments), comments)
	}
	st := e.openDB(t)
	var delivered, rows int
	if err := st.DB().QueryRow(`SELECT count(*), (SELECT count(*) FROM outbox_deliveries d JOIN outbox o ON d.seq = o.seq
		WHERE o.request_id = ? AND d.destination = 'github') FROM outbox WHERE request_id = ? AND failed = 0`, r.ID, r.ID).Scan(&rows, &delivered); err != nil {
		t.Fatal(err)
	}
	if rows != 3 || delivered != rows {
		t.Errorf("outbox: %d notifications, %d deliveries to GitHub; want 3 and one delivery each", rows, delivered)
	}
}
