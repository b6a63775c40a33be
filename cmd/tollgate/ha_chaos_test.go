package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// chaosScale sizes TestHAChaos. The default is CI's: bounded (a fixed
// schedule of kills, a fixed load) and small enough for two cores under
// -race. TOLLGATE_CHAOS=full runs issue 12's numbers (500 deliveries, 20
// deploys, a kill every few seconds); it takes a few minutes.
type chaosScale struct {
	deliveries int           // concurrent signed GitHub deliveries and Slack commands (every tenth resent)
	merges     int           // merges, each a staging deploy to real sshd
	production int           // production requests approved by a click during the chaos
	kills      int           // SIGKILLs (the schedule adds up to three while none landed mid-deploy)
	killEvery  time.Duration // mean time between SIGKILLs
	mergeGap   time.Duration // time between merges
	approveGap time.Duration // time between production approvals (the first after one gap)
}

func chaosScaleFromEnv() chaosScale {
	if os.Getenv("TOLLGATE_CHAOS") == "full" {
		return chaosScale{deliveries: 500, merges: 20, production: 2, kills: 12, killEvery: 3 * time.Second,
			mergeGap: time.Second, approveGap: 7 * time.Second}
	}
	return chaosScale{deliveries: 150, merges: 6, production: 1, kills: 4, killEvery: 2 * time.Second,
		mergeGap: 400 * time.Millisecond, approveGap: 2 * time.Second}
}

// chaosLease is the replicas' lease in the chaos test: short, for quick
// takeovers, but well above what a heartbeat takes on a loaded machine.
const chaosLease = "5s"

// TestHAChaos runs three replicas on one PostgreSQL under load while a
// replica is SIGKILLed every few seconds and started again (the runner of
// a deploy, the jobs leader, a random one): concurrent signed GitHub
// deliveries and Slack commands (10% resent with the same ids to another
// replica), merges deploying staging to real sshd,
// production requests approved by clicks sent to random replicas, and a
// lock whose reminders the jobs leader sends. Afterwards: each delivery was
// stored once and handled to done; each merge and command made one
// request; no two deploys of an environment overlapped (the replicas'
// timestamps, and the target's own, taken under the deploy lock); every
// request ended or waits queued; the requests running on a killed replica
// ended interrupted, exactly once; GitHub shows no status twice and no
// reminder went out twice; the audit log verifies; every server's current
// is a complete release.
func TestHAChaos(t *testing.T) {
	scale := chaosScaleFromEnv()
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TOLLGATE_CHAOS_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("chaos seed %d (TOLLGATE_CHAOS_SEED=%d reruns it), %+v", seed, seed, scale)
	rng := rand.New(rand.NewPCG(seed, 7))

	w := newChaosWorld(t)
	h := serveReplicasWith(t, w.e2e, 3, chaosLease)
	for _, p := range []slackE2EPerson{slackAlice, slackBob, slackCarol} {
		w.link(t, p)
	}
	t.Logf("/deploy lock qa answered %q", w.slash(t, slackCarol, "lock qa chaos drill"))
	waitFor(t, "carol's lock on qa", func() bool { return auditCount(t, w.e2e, bot.ActionLockAcquired, "") > 0 })
	prod := w.askForProduction(t, scale.production)
	merges := w.developMerges(t, scale.merges)
	load := w.planChaosLoad(scale.deliveries, rng)

	start := time.Now()
	killer := startKiller(t, h, rng, scale.killEvery, scale.kills)
	var senders sync.WaitGroup
	errs := make(chan error, len(load)+len(merges)+len(prod)+1)
	for _, r := range load {
		senders.Go(func() { errs <- h.deliverChaos(r) })
	}
	senders.Go(func() {
		for i, m := range merges {
			time.Sleep(scale.mergeGap)
			errs <- h.deliverChaos(w.mergeRequest(t, m, i%4 == 3))
		}
	})
	senders.Go(func() {
		for i, p := range prod {
			time.Sleep(scale.approveGap)
			errs <- h.deliverChaos(w.approveRequest(t, p, i == 0))
		}
	})
	senders.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	for what, n := range h.notes {
		t.Errorf("%d commands were refused rather than taken: %s", n, what)
	}
	if len(h.notes) > 0 {
		t.Log(grepLines(h.logs(), "slash command failed", 5))
	}
	kills := killer.wait()
	t.Logf("load sent and kills done after %s: %d kills, %d mid-deploy; jobs taken over after %v",
		time.Since(start).Round(time.Millisecond), len(kills), killer.midDeploy, killer.takeover)
	if killer.midDeploy == 0 {
		t.Error("no kill landed while its replica ran a deploy: the interruption path went untested")
	}
	if len(killer.takeover) == 0 {
		t.Error("no kill hit the jobs leader: the takeover went untested")
	}
	for _, d := range killer.takeover {
		if d > 30*time.Second {
			t.Errorf("the jobs were taken over %s after their leader was killed, want within 30s", d.Round(time.Millisecond))
		}
	}
	settleChaos(t, w, h)
	t.Logf("settled after %s", time.Since(start).Round(time.Millisecond))
	h.stop(t)

	checkChaosInbox(t, w.e2e, load, merges, prod)
	checkChaosRequests(t, w, load, merges, prod, kills)
	checkNoOverlap(t, w)
	checkNoRepeats(t, w)
	checkCurrentRelease(t, w.root, merges)
	checkProductionRelease(t, w)
	if code, out, errOut := runCLI(t, "verify", "--config", w.configPath); code != exitOK {
		t.Errorf("tollgate verify after the chaos: exit %d\n%s%s", code, out, errOut)
	}
	if t.Failed() {
		t.Log(tail(h.logs(), 20000))
	}
}

// chaosWorld is the Slack e2e world (staging on one sshd, production on
// two) with a qa environment that carol keeps locked, lock reminders every
// second, and a before_switch hook on staging that records, on the target
// and under the deploy lock, when each deploy's switch began and ended.
type chaosWorld struct{ *slackE2E }

// overlapHook appends "start PID NANOS" and "end PID NANOS" to
// <path>/overlap.log (hooks run in the release directory).
const overlapHook = `echo "start $$ $(date +%s%N)" >> ../../overlap.log; sleep 0.2; echo "end $$ $(date +%s%N)" >> ../../overlap.log`

func newChaosWorld(t *testing.T) *chaosWorld {
	t.Helper()
	w := &chaosWorld{newSlackE2EWith(t, e2eOptions{webLogin: true, beforeSwitch: overlapHook})}
	w.gh.AddPullRequest(e2eRepo, githubtestPR(50, sha('d')))
	w.gh.SetTeamMember("acme", "deployers", "carol", "") // she locks qa
	w.gh.AddCommit(e2eRepo, "develop", sha('a'))
	// qa never deploys (carol's lock refuses every request), but it is an
	// environment like any other: its own key.
	writeTestSSHKey(t, filepath.Join(w.dir, "qa_ed25519"), "")
	cfg := readTestFile(t, w.configPath)
	cfg = strings.Replace(cfg, "\nrepositories:", "\nlocks:\n  remind_after: 1s\nrepositories:", 1)
	cfg = strings.Replace(cfg, "        auto_deploy:\n          on_merge_to: [main]",
		"        branches: [main, develop]\n        auto_deploy:\n          on_merge_to: [main, develop]", 1)
	cfg += fmt.Sprintf(`      qa:
        deployers: [deployers]
        servers:
          - host: 127.0.0.1
            port: %d
            user: %s
        ssh:
          private_key_file: qa_ed25519
          known_hosts_file: known_hosts_staging
        path: %s
`, w.sshdPort, w.sshdUser, w.root+"-qa")
	writeTestFile(t, w.configPath, cfg)
	return w
}

// developMerges puts n merged pull requests into develop, each with its
// own tree: staging deploys them, while main, which production's approvals
// are bound to, stays where it is.
func (w *chaosWorld) developMerges(t *testing.T, n int) []crashMerge {
	t.Helper()
	var merges []crashMerge
	for i := range n {
		m := crashMerge{number: 100 + i, sha: fmt.Sprintf("%03xc0ffee%031x", i, i), delivery: githubtest.NewDeliveryID()}
		m.files = map[string]string{
			"index.html":     fmt.Sprintf("<h1>shop v2 build %d</h1>\n", i),
			"bin/health":     "#!/bin/sh\ngrep -q v2 index.html\n",
			"assets/big.txt": strings.Repeat(fmt.Sprintf("release %d\n", i), 16<<10/11),
		}
		w.gh.AddPullRequest(e2eRepo, githubtest.PullRequest{Number: m.number, Title: fmt.Sprintf("Change %d", i),
			Author: "bob", HeadSHA: fmt.Sprintf("%03xbeef%033x", i, i), Base: "develop"})
		w.gh.MergePullRequest(e2eRepo, m.number, m.sha, "alice")
		if err := w.gh.SetTarball(e2eRepo, m.sha, m.files); err != nil {
			t.Fatal(err)
		}
		merges = append(merges, m)
	}
	return merges
}

// askForProduction has alice ask for production n times (before the
// chaos, on main's reviewed head) and returns the approval messages' ts.
func (w *chaosWorld) askForProduction(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for range n {
		if ack := w.slash(t, slackAlice, "production"); !strings.Contains(ack, "Working on") {
			t.Fatalf("/deploy production answered %q", ack)
		}
	}
	waitFor(t, "the production approval messages", func() bool {
		out = out[:0]
		for _, m := range w.sl.Messages(slackE2EChannel) {
			if _, v, ok := slacktest.Button(m.Blocks, slackint.ActionApprove); ok {
				id, _, _ := strings.Cut(v, ":")
				if w.request(t, id).ExternalRefs[slackint.RefSlackTS] != "" {
					out = append(out, m.TS)
				}
			}
		}
		return len(out) == n
	})
	return append([]string(nil), out...)
}

// settleChaos waits until every delivery is handled, nothing waits or
// runs, and the outbox has delivered everything.
func settleChaos(t *testing.T, w *chaosWorld, h *haReplicas) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	lastLog := time.Now()
	for {
		st := openReadOnly(t, w.dbPath)
		var notDone, busy, outbox int
		err := st.DB().QueryRow(`SELECT
			(SELECT count(*) FROM inbox WHERE state <> 'done'),
			(SELECT count(*) FROM requests WHERE state IN ('requested', 'awaiting_approval', 'queued', 'running')),
			(SELECT count(*) FROM outbox WHERE done_at = 0)`).Scan(&notDone, &busy, &outbox)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if notDone == 0 && busy == 0 && outbox == 0 {
			return
		}
		if time.Since(lastLog) > 10*time.Second {
			t.Logf("settling: %d deliveries not done, %d requests not ended, %d notifications undelivered", notDone, busy, outbox)
			lastLog = time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("not settled 3 minutes after the chaos: %d deliveries not done, %d requests not ended, %d notifications undelivered\n%s\n%s",
				notDone, busy, outbox, crashUnsettled(t, w.dbPath), grepLines(h.logs(), "production", 60))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tail is the end of s.
func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// grepLines returns the last n lines of s containing word.
func grepLines(s, word string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, word) {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}
