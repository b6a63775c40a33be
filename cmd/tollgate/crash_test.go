package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/store"
)

var (
	crashKills = flag.Int("crash.kills", 20, "TestServeCrashRecovery: how many times serve is SIGKILLed")
	crashSeed  = flag.Uint64("crash.seed", 0, "TestServeCrashRecovery: seed for the kill points; 0 picks one (logged)")
)

// crashMerge is one merged pull request the crash test deploys.
type crashMerge struct {
	number   int
	sha      string
	delivery string
	files    map[string]string
}

// TestServeCrashRecovery runs `tollgate serve` as a process deploying a
// stream of merges to a real sshd, SIGKILLs it at random points (seeded,
// logged) and starts it again each time. Afterwards: every delivery
// GitHub sent is in the inbox and done, each merge made exactly one
// request, every request that was running at a kill is interrupted with a
// deploy.interrupted audit entry, nothing is left in flight, `tollgate
// verify` passes, and the target's current is a complete release.
// 20 kills take about 20 s under -race on 2 cores, plus up to the 2-minute
// inbox lease when a kill lands while a delivery is being handled (until
// serve releases its predecessor's leases at start: store.ReleaseInboxLeases).
func TestServeCrashRecovery(t *testing.T) {
	seed := *crashSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d, %d kills (rerun with -crash.seed=%d -crash.kills=%d)", seed, *crashKills, seed, *crashKills)
	rng := rand.New(rand.NewPCG(seed, 1))

	// A before_switch hook keeps each deploy running a little longer, so
	// kills land in every step of it, not only between deploys.
	e := newE2E(t, e2eOptions{beforeSwitch: "sleep 0.2"})
	e.listen = freeLoopbackAddr(t)
	e.writeConfig(t, "")
	merges := crashMerges(t, e, *crashKills+4)
	child := newServeChild(t, e.configPath, e.listen)

	// GitHub delivers each merge, redelivering with the same id until
	// Tollgate acknowledges it, whether or not Tollgate is up.
	senderRNG := rand.New(rand.NewPCG(seed, 2))
	gaps := make([]time.Duration, len(merges))
	for i := range gaps {
		gaps[i] = time.Duration(200+senderRNG.IntN(800)) * time.Millisecond
	}
	var sendWG sync.WaitGroup
	sendErr := make(chan error, 1)
	sendWG.Go(func() {
		for i, m := range merges {
			time.Sleep(gaps[i])
			if err := deliverUntilAcknowledged(e, child, m); err != nil {
				sendErr <- err
				return
			}
		}
	})

	wantInterrupted := map[string]bool{}
	for k := range *crashKills {
		child.start(t)
		time.Sleep(time.Duration(100+rng.IntN(1400)) * time.Millisecond)
		child.kill(t)
		running := requestsIn(t, e.dbPath, bot.StateRunning)
		for _, r := range running {
			wantInterrupted[r.ID] = true
		}
		t.Logf("kill %d: %d request(s) running", k+1, len(running))
	}
	child.start(t)
	sendWG.Wait()
	select {
	case err := <-sendErr:
		t.Fatal(err)
	default:
	}
	// A delivery a killed process had claimed is retried when its inbox
	// lease (2 minutes in serve) runs out, so settling may take that long.
	const settle = 3 * time.Minute
	deadline := time.Now().Add(settle)
	logged := false
	for !crashSettled(t, e.dbPath, merges) {
		if !logged && time.Until(deadline) < settle-5*time.Second {
			t.Logf("not settled 5 s after the last restart (waiting for the lease of deliveries claimed by a killed process):\n%s",
				crashUnsettled(t, e.dbPath))
			logged = true
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the last restart, not every delivery was processed and every request finished within %s:\n%s\n%s",
				settle, crashUnsettled(t, e.dbPath), child.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := child.terminate(t); err != nil {
		t.Fatalf("serve exited with %v after the run, want 0\n%s", err, child.logTail())
	}

	st := e.openDB(t)
	checkCrashInbox(t, st, merges)
	checkCrashRequests(t, st, merges, wantInterrupted)
	var out bytes.Buffer
	if code := dispatch(context.Background(), []string{"verify", "--config", e.configPath}, &out, &out); code != exitOK {
		t.Errorf("tollgate verify exit %d, want 0:\n%s", code, out.String())
	}
	checkCurrentRelease(t, e.root, merges)
	if t.Failed() {
		t.Logf("serve log:\n%s", child.logTail())
	}
}

// crashMerges puts n merged pull requests in the fake GitHub, each with
// its own tree (a file of 64 KiB that differs per release, so every
// deploy uploads something).
func crashMerges(t *testing.T, e *e2e, n int) []crashMerge {
	t.Helper()
	var merges []crashMerge
	for i := range n {
		m := crashMerge{number: 100 + i, sha: fmt.Sprintf("%03xc0ffee%031x", i, i), delivery: githubtest.NewDeliveryID()}
		m.files = map[string]string{
			"index.html":     fmt.Sprintf("<h1>shop v2 build %d</h1>\n", i),
			"app/app.js":     fmt.Sprintf("console.log('v2 build %d')\n", i),
			"bin/health":     "#!/bin/sh\ngrep -q v2 index.html\n",
			"assets/big.txt": strings.Repeat(fmt.Sprintf("release %d\n", i), 64<<10/11),
		}
		head := fmt.Sprintf("%03xbeef%033x", i, i)
		e.gh.AddPullRequest(e2eRepo, githubtest.PullRequest{Number: m.number, Title: fmt.Sprintf("Change %d", i),
			Author: "bob", HeadSHA: head, Base: "main"})
		e.gh.MergePullRequest(e2eRepo, m.number, m.sha, "alice")
		if err := e.gh.SetTarball(e2eRepo, m.sha, m.files); err != nil {
			t.Fatal(err)
		}
		merges = append(merges, m)
	}
	return merges
}

// deliverUntilAcknowledged sends m's merge webhook with its delivery id
// until serve answers 2xx, as GitHub's redelivery would.
func deliverUntilAcknowledged(e *e2e, child *serveChild, m crashMerge) error {
	p, err := e.gh.Payloads().PullRequestMerged(e2eRepo, m.number, m.sha, "alice", "main")
	if err != nil {
		return err
	}
	body, err := p.JSON()
	if err != nil {
		return err
	}
	deadline := time.Now().Add(e2eTimeout)
	for {
		resp, err := e.gh.SendWebhookDelivery(context.Background(), child.url("/webhooks/github"), e2eSecret, p.Event, m.delivery, body)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode/100 == 2 {
				return nil
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("merge of #%d (delivery %s) never acknowledged: %w", m.number, m.delivery, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// requestsIn lists the requests in state, read from the database file as
// the killed process left it.
func requestsIn(t *testing.T, dbPath string, states ...bot.State) []bot.Request {
	t.Helper()
	st, err := store.OpenReadOnly(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rs, err := st.ListRequests(context.Background(), bot.RequestFilter{States: states, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// crashSettled reports whether every merge's delivery is done and no
// request is waiting or running.
func crashSettled(t *testing.T, dbPath string, merges []crashMerge) bool {
	t.Helper()
	st, err := store.OpenReadOnly(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var notDone int
	if err := st.DB().QueryRow(`SELECT count(*) FROM inbox WHERE state != 'done'`).Scan(&notDone); err != nil {
		t.Fatal(err)
	}
	var done int
	if err := st.DB().QueryRow(`SELECT count(*) FROM inbox WHERE state = 'done'`).Scan(&done); err != nil {
		t.Fatal(err)
	}
	rs, err := st.ListRequests(context.Background(), bot.RequestFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !r.State.Terminal() {
			return false
		}
	}
	return notDone == 0 && done >= len(merges)
}

// crashUnsettled describes the inbox items not done and the requests not finished.
func crashUnsettled(t *testing.T, dbPath string) string {
	t.Helper()
	st, err := store.OpenReadOnly(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var b strings.Builder
	rows, err := st.DB().Query(`SELECT delivery_id, state, attempts, lease_until, last_error FROM inbox WHERE state != 'done'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, state, lastErr string
		var attempts int
		var lease int64
		if err := rows.Scan(&id, &state, &attempts, &lease, &lastErr); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "inbox %s: %s, %d attempts, leased until %s, last error %q\n", id, state, attempts,
			time.Unix(0, lease).Format(time.TimeOnly), lastErr)
	}
	rs, err := st.ListRequests(context.Background(), bot.RequestFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !r.State.Terminal() {
			fmt.Fprintf(&b, "request %s (%s): %s since %s (%s)\n", r.ID, r.SHA[:7], r.State, r.UpdatedAt.Format(time.TimeOnly), r.StateReason)
		}
	}
	out, err := st.DB().Query(`SELECT seq, request_id, kind, attempts, next_attempt_at, last_error FROM outbox WHERE done_at = 0 ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	for out.Next() {
		var seq, attempts, next int64
		var id, kind, lastErr string
		if err := out.Scan(&seq, &id, &kind, &attempts, &next, &lastErr); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "outbox %d (%s of %s): %d attempts, next at %s, last error %q\n", seq, kind, id, attempts,
			time.Unix(0, next).Format(time.TimeOnly), lastErr)
	}
	return b.String()
}

// checkCrashInbox: every delivery sent is stored once and done.
func checkCrashInbox(t *testing.T, st *store.Store, merges []crashMerge) {
	t.Helper()
	for _, m := range merges {
		var state string
		var n int
		err := st.DB().QueryRow(`SELECT state, count(*) FROM inbox WHERE source = 'github' AND delivery_id = ?`, m.delivery).Scan(&state, &n)
		if err != nil || n != 1 || state != store.InboxDone {
			t.Errorf("delivery %s (merge of #%d): %d row(s), state %q, err %v; want one, done", m.delivery, m.number, n, state, err)
		}
	}
}

// checkCrashRequests: one request per merge, each finished; those
// running at a kill are interrupted and audited as such.
func checkCrashRequests(t *testing.T, st *store.Store, merges []crashMerge, wantInterrupted map[string]bool) {
	t.Helper()
	rs, err := st.ListRequests(context.Background(), bot.RequestFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	bySHA := map[string]int{}
	states := map[bot.State]int{}
	for _, r := range rs {
		bySHA[r.SHA]++
		states[r.State]++
		if !slices.Contains([]bot.State{bot.StateSucceeded, bot.StateInterrupted}, r.State) {
			t.Errorf("request %s (%s) ended %s (%s), want succeeded or interrupted", r.ID, r.SHA[:7], r.State, r.StateReason)
		}
		interruptedEntries := 0
		for _, a := range auditActions(t, st, r.ID) {
			if a == bot.ActionDeployInterrupted {
				interruptedEntries++
			}
		}
		switch {
		case wantInterrupted[r.ID] && (r.State != bot.StateInterrupted || interruptedEntries != 1):
			t.Errorf("request %s was running at a kill: state %s, %d deploy.interrupted entries; want interrupted, 1", r.ID, r.State, interruptedEntries)
		case r.State == bot.StateInterrupted && !wantInterrupted[r.ID]:
			t.Errorf("request %s is interrupted but was not running at any kill", r.ID)
		}
	}
	for _, m := range merges {
		if bySHA[m.sha] != 1 {
			t.Errorf("merge of #%d made %d requests, want 1", m.number, bySHA[m.sha])
		}
	}
	t.Logf("%d requests: %v; %d were running at a kill", len(rs), states, len(wantInterrupted))
}

// checkCurrentRelease: current points at a release whose files are
// exactly the tree of the merge it names.
func checkCurrentRelease(t *testing.T, root string, merges []crashMerge) {
	t.Helper()
	link, err := os.Readlink(filepath.Join(root, "current"))
	if err != nil {
		t.Fatalf("current: %v", err)
	}
	release := filepath.Base(link)
	var m *crashMerge
	for i := range merges {
		if strings.HasSuffix(release, "-"+merges[i].sha[:7]) {
			m = &merges[i]
		}
	}
	if m == nil {
		t.Fatalf("current -> %s names none of the merged commits", link)
	}
	dir := filepath.Join(root, "releases", release)
	got := map[string]string{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		rel, _ := filepath.Rel(dir, path)
		got[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatalf("reading release %s: %v", release, err)
	}
	delete(got, attest.FileName) // Tollgate's own, next to the merged tree
	if len(got) != len(m.files) {
		t.Errorf("release %s holds %d files, want %d: %v", release, len(got), len(m.files), keys(got))
	}
	for name, want := range m.files {
		if got[name] != want {
			t.Errorf("release %s: %s differs from the merged tree (%d bytes, want %d)", release, name, len(got[name]), len(want))
		}
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
