package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
)

// openReadOnly opens the database at location read-only; the caller closes it.
func openReadOnly(t *testing.T, location string) *store.Store {
	t.Helper()
	st, err := store.OpenReadOnly(context.Background(), location)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// checkChaosInbox: every delivery sent is stored once and handled to
// done; nothing is left pending or failed.
func checkChaosInbox(t *testing.T, e *e2e, load []chaosRequest, merges []crashMerge, prod []string) {
	t.Helper()
	st := openReadOnly(t, e.dbPath)
	defer st.Close()
	rows, err := st.DB().Query(`SELECT source, delivery_id, state, count(*) FROM inbox GROUP BY source, delivery_id, state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	have := map[string]int{}
	for rows.Next() {
		var source, id, state string
		var n int
		if err := rows.Scan(&source, &id, &state, &n); err != nil {
			t.Fatal(err)
		}
		if state != store.InboxDone {
			t.Errorf("delivery %s %s is %s", source, id, state)
		}
		have[source+" "+id] += n
	}
	want := map[string]bool{}
	for _, r := range load {
		want[r.source+" "+r.key] = true
	}
	for _, m := range merges {
		want["github "+m.delivery] = true
	}
	bad := 0
	for k := range want {
		if have[k] != 1 {
			if bad++; bad <= 5 {
				t.Errorf("delivery %s stored %d times, want once", k, have[k])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d deliveries not stored exactly once", bad, len(want))
	}
	t.Logf("inbox: %d deliveries, all done (%d sent by the load and the merges, %d approval clicks)", len(have), len(want), len(prod))
}

// checkChaosRequests: each merge and each /deploy qa made one request;
// every request ended (or waits queued); production's were approved once
// each by carol; a request interrupted ran on a killed replica and has one
// deploy.interrupted entry; every request running on a replica when it was
// killed ended interrupted; no other request was interrupted.
func checkChaosRequests(t *testing.T, w *chaosWorld, load []chaosRequest, merges []crashMerge, prod []string, kills []chaosKill) {
	t.Helper()
	st := openReadOnly(t, w.dbPath)
	defer st.Close()
	rs, err := st.ListRequests(context.Background(), bot.RequestFilter{Limit: 100000})
	if err != nil {
		t.Fatal(err)
	}
	killedRunning, killed := map[string]bool{}, map[string]bool{}
	for _, k := range kills {
		if k.id != "" {
			killed[k.id] = true
		}
		for _, id := range k.running {
			killedRunning[id] = true
		}
	}
	runners := map[string]string{}
	rows, err := st.DB().Query(`SELECT id, runner FROM requests`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, runner string
		if err := rows.Scan(&id, &runner); err != nil {
			t.Fatal(err)
		}
		runners[id] = runner
	}
	rows.Close()
	bySHA, byEnv, states := map[string]int{}, map[string]int{}, map[bot.State]int{}
	for _, r := range rs {
		byEnv[r.Environment]++
		states[r.State]++
		if r.Environment == "staging" {
			bySHA[r.SHA]++
		}
		if !r.State.Terminal() && r.State != bot.StateQueued {
			t.Errorf("request %s (%s) is %s, want ended or queued", r.ID, r.Environment, r.State)
		}
		interrupted := 0
		for _, a := range auditActions(t, st, r.ID) {
			if a == bot.ActionDeployInterrupted {
				interrupted++
			}
		}
		switch {
		case killedRunning[r.ID] && (r.State != bot.StateInterrupted || interrupted != 1):
			t.Errorf("request %s ran on a killed replica: %s with %d deploy.interrupted entries, want interrupted once", r.ID, r.State, interrupted)
		case r.State == bot.StateInterrupted && (!killed[runners[r.ID]] || interrupted != 1):
			t.Errorf("request %s was interrupted (%s, %d deploy.interrupted entries) but its runner %q was never killed",
				r.ID, r.StateReason, interrupted, runners[r.ID])
		case r.State != bot.StateInterrupted && interrupted != 0:
			t.Errorf("request %s is %s with %d deploy.interrupted entries", r.ID, r.State, interrupted)
		}
		if r.Environment == "production" && (len(r.Approvals) != 1 || r.Approvals[0].Approver.Login != "carol") {
			t.Errorf("production request %s has approvals %+v, want carol's once", r.ID, r.Approvals)
		}
	}
	for _, m := range merges {
		if bySHA[m.sha] != 1 {
			t.Errorf("merge of #%d made %d requests, want 1", m.number, bySHA[m.sha])
		}
	}
	qa := 0
	for _, r := range load {
		if r.kind == "qa" && !r.resend {
			qa++
		}
	}
	if byEnv["qa"] != qa || byEnv["production"] != len(prod) {
		t.Errorf("%d qa and %d production requests, want %d and %d", byEnv["qa"], byEnv["production"], qa, len(prod))
	}
	t.Logf("%d requests %v; %d were running at a kill", len(rs), states, len(killedRunning))
}

// checkNoOverlap: no two deploys of one environment overlapped, by the
// replicas' own timestamps (each request's start and end), and by the
// target's own (staging's before_switch hook writes when it began and
// ended, under the deploy lock).
func checkNoOverlap(t *testing.T, w *chaosWorld) {
	t.Helper()
	st := openReadOnly(t, w.dbPath)
	rs, err := st.ListRequests(context.Background(), bot.RequestFilter{Limit: 100000})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	byEnv := map[string][]bot.Request{}
	for _, r := range rs {
		if !r.StartedAt.IsZero() {
			byEnv[r.Environment] = append(byEnv[r.Environment], r)
		}
	}
	for env, runs := range byEnv {
		slices.SortFunc(runs, func(a, b bot.Request) int { return a.StartedAt.Compare(b.StartedAt) })
		for i := 1; i < len(runs); i++ {
			if prev := runs[i-1]; runs[i].StartedAt.Before(prev.FinishedAt) {
				t.Errorf("%s: %s started at %s, before %s ended at %s", env, runs[i].ID,
					runs[i].StartedAt.Format(time.RFC3339Nano), prev.ID, prev.FinishedAt.Format(time.RFC3339Nano))
			}
		}
	}
	log, err := os.ReadFile(filepath.Join(w.root, "overlap.log"))
	if err != nil {
		t.Fatalf("staging's hook log: %v", err)
	}
	type span struct{ start, end int64 }
	open := map[string]int64{}
	var spans []span
	for _, line := range strings.Split(strings.TrimSpace(string(log)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("hook log line %q", line)
		}
		at, _ := strconv.ParseInt(f[2], 10, 64)
		switch f[0] {
		case "start":
			open[f[1]] = at
		case "end":
			spans = append(spans, span{open[f[1]], at})
			delete(open, f[1])
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return int(a.start - b.start) })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			t.Errorf("on staging's server, a switch began %s before the previous one ended",
				time.Duration(spans[i-1].end-spans[i].start))
		}
	}
	t.Logf("staging's server ran %d switches one at a time (%d cut short by a kill)", len(spans), len(open))
}

// checkNoRepeats: GitHub shows no deployment status twice; no lock
// reminder went out twice (each is recorded before it is sent, so a kill
// may lose one, never double it); Slack thread lines repeated by a kill
// between posting and recording are counted (at-least-once, see docs/ha.md).
func checkNoRepeats(t *testing.T, w *chaosWorld) {
	t.Helper()
	for _, d := range w.gh.Deployments(e2eRepo) {
		sts := w.gh.DeploymentStatuses(e2eRepo, d.ID)
		seen := map[string]bool{}
		for _, s := range sts {
			if seen[s] {
				t.Errorf("deployment %d (%s) shows %q twice: %v", d.ID, d.Environment, s, sts)
			}
			seen[s] = true
		}
	}
	reminders := 0
	for _, m := range w.sl.Messages(slackCarol.slackID) {
		if strings.HasPrefix(m.Text, ":lock: You have held the lock on acme/shop qa") {
			reminders++
		}
	}
	recorded := auditCount(t, w.e2e, bot.ActionLockReminded, "")
	if reminders > recorded {
		t.Errorf("%d lock reminders reached carol, %d recorded: one went out twice", reminders, recorded)
	}
	repeats := 0
	for _, m := range w.sl.Messages(slackE2EChannel) {
		seen := map[string]bool{}
		for _, r := range w.sl.Thread(slackE2EChannel, m.TS) {
			if seen[r.Text] {
				repeats++
			}
			seen[r.Text] = true
		}
	}
	t.Logf("%d lock reminders sent, %d recorded; %d GitHub deployments without a repeated status; %d Slack thread lines repeated",
		reminders, recorded, len(w.gh.Deployments(e2eRepo)), repeats)
}

// checkProductionRelease: each production server's current, if any, is
// a complete release of main's head; both run the same one, unless a kill
// interrupted a production deploy (before its first switch, or between
// the servers' switches).
func checkProductionRelease(t *testing.T, w *chaosWorld) {
	t.Helper()
	st := openReadOnly(t, w.dbPath)
	var interrupted int
	err := st.DB().QueryRow(`SELECT count(*) FROM requests WHERE environment = 'production' AND state = 'interrupted'`).Scan(&interrupted)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	releases := map[string]bool{}
	for i, root := range w.roots {
		link, err := os.Readlink(filepath.Join(root, "current"))
		if errors.Is(err, fs.ErrNotExist) && interrupted > 0 {
			releases[""] = true
			continue
		}
		if err != nil {
			t.Errorf("production server %d: %v", i, err)
			continue
		}
		rel := filepath.Base(link)
		if !strings.HasSuffix(rel, "-"+sha('c')[:7]) {
			t.Errorf("production server %d runs %q, want a release of %s", i, rel, sha('c')[:7])
		}
		if _, err := os.Stat(filepath.Join(root, "releases", rel, "index.html")); err != nil {
			t.Errorf("production server %d: current release %s is incomplete: %v", i, rel, err)
		}
		releases[rel] = true
	}
	if interrupted == 0 && len(releases) != 1 {
		t.Errorf("production servers run %v, want one release", releases)
	}
	t.Logf("production servers run %v (%d production requests interrupted)", releases, interrupted)
}
