package store

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// alertLog records the drift alerts it is given; failing makes delivery fail.
type alertLog struct {
	failing bool
	sent    []bot.Notification
}

func (a *alertLog) Notify(_ context.Context, n bot.Notification) error {
	if a.failing {
		return errors.New("slack: 503")
	}
	a.sent = append(a.sent, n)
	return nil
}

// TestDriftChecksAlertOncePerFindingAndNeverLoseOne: a drift is announced
// once however many checks see it, also after reopening the database (a
// restart); a failed alert is retried by the next check; a new finding is
// announced again; a clean check clears it; an incomplete clean check
// proves nothing.
func TestDriftChecksAlertOncePerFindingAndNeverLoseOne(t *testing.T) {
	storetest.Run(t, testDriftChecks)
}

func testDriftChecks(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t, Options{})
	t0 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	exp := bot.LiveRelease{RequestID: "r1", Release: "20261206090000-abcdef1", ManifestDigest: "sha256:aa"}
	check := func(at time.Time, servers ...bot.DriftServer) bot.DriftCheck {
		return bot.DriftCheck{Repo: "acme/shop", Environment: "production", CheckedAt: at, Expected: exp, Servers: servers}
	}
	clean := bot.DriftServer{Server: "web1:22", Live: exp.Release, Attestation: "missing"}
	edited := bot.DriftServer{Server: "web2:22", Live: exp.Release, Paths: map[string][]string{"changed": {"lib/auth.php"}}}
	more := bot.DriftServer{Server: "web2:22", Live: exp.Release, Paths: map[string][]string{"changed": {"lib/auth.php"}, "added": {"x.php"}}}
	down := bot.DriftServer{Server: "web2:22", Error: "dial: connection refused"}
	alerts := &alertLog{}
	record := func(c bot.DriftCheck) bot.DriftOutcome {
		t.Helper()
		out, err := bot.RecordDrift(ctx, s, alerts, c)
		if err != nil && !alerts.failing {
			t.Fatal(err)
		}
		return out
	}

	if out := record(check(t0, clean, clean)); out.Detected || out.Cleared || out.Alerted {
		t.Errorf("first clean check: %+v", out)
	}
	if out := record(check(t0.Add(time.Hour), clean, edited)); !out.Detected || !out.Alerted {
		t.Errorf("drift: %+v", out)
	}
	if out := record(check(t0.Add(2*time.Hour), clean, edited)); out.Detected || out.Alerted {
		t.Errorf("the same drift again: %+v", out)
	}
	// A restart: the dedupe is in the database.
	s.Close()
	s2, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s2.Close() })
	s = s2
	if out := record(check(t0.Add(3*time.Hour), clean, edited)); out.Detected || out.Alerted {
		t.Errorf("the same drift after a restart: %+v", out)
	}
	// A new finding while Slack is down: recorded, alert retried next time.
	alerts.failing = true
	if out := record(check(t0.Add(4*time.Hour), clean, more)); !out.Detected || out.Alerted {
		t.Errorf("new drift, Slack down: %+v", out)
	}
	alerts.failing = false
	if out := record(check(t0.Add(5*time.Hour), clean, more)); out.Detected || !out.Alerted {
		t.Errorf("same drift, Slack back: %+v", out)
	}
	// A server that cannot be reached proves nothing: not cleared.
	if out := record(check(t0.Add(6*time.Hour), clean, down)); out.Cleared || out.Detected {
		t.Errorf("incomplete check: %+v", out)
	}
	if out := record(check(t0.Add(7*time.Hour), clean, clean)); !out.Cleared {
		t.Errorf("clean again: %+v", out)
	}
	if len(alerts.sent) != 2 || alerts.sent[0].Kind != bot.NotifyDriftDetected || alerts.sent[0].Drift == nil ||
		!reflect.DeepEqual(alerts.sent[1].Drift.Servers[1].Paths, more.Paths) {
		t.Errorf("alerts sent: %+v", alerts.sent)
	}

	entries, err := s.Audit().Tail(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if e.Subject == "acme/shop production" {
			actions = append(actions, e.Action)
		}
	}
	want := []string{bot.ActionDriftDetected, bot.ActionDriftDetected, bot.ActionDriftCleared}
	if !reflect.DeepEqual(actions, want) {
		t.Errorf("audit %v, want %v", actions, want)
	}

	latest, err := s.LatestDriftChecks(ctx)
	if err != nil || len(latest) != 1 || latest[0].Drifted() || !latest[0].CheckedAt.Equal(t0.Add(7*time.Hour)) {
		t.Errorf("latest %+v, %v", latest, err)
	}
	drifted, err := s.DriftedChecks(ctx, t0, t0.Add(24*time.Hour))
	if err != nil || len(drifted) != 5 || drifted[0].Servers[1].Paths["changed"][0] != "lib/auth.php" {
		t.Errorf("drifted checks %d, %v", len(drifted), err)
	}
}

// TestFindLiveReleaseTrustsTheDeploysDigest: what Tollgate put live last
// is the release of the last succeeded request by finish; after a rollback
// its digest is the one recorded by the deploy that created the release
// (a rollback reads the manifest back from a server), and a failed deploy
// changes nothing.
func TestFindLiveReleaseTrustsTheDeploysDigest(t *testing.T) {
	storetest.Run(t, testFindLiveRelease)
}

func testFindLiveRelease(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	t0 := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
	add := func(id string, trigger bot.Trigger, state bot.State, release, digest string, finished time.Time) {
		t.Helper()
		r := bot.Request{ID: id, SourceKey: "k-" + id, Repo: "acme/shop", Environment: "production", Ref: "main",
			SHA: strings.Repeat("a", 40), Trigger: trigger, Requester: bot.Identity{Login: "alice", GitHubID: 1}, State: state,
			Result: &bot.DeployOutcome{Release: release, ManifestDigest: digest}, CreatedAt: finished.Add(-time.Minute),
			UpdatedAt: finished, FinishedAt: finished}
		if _, _, err := s.CreateRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	find := func() bot.LiveRelease {
		t.Helper()
		live, ok, err := bot.FindLiveRelease(ctx, s, "acme/shop", "production")
		if err != nil || !ok {
			t.Fatalf("FindLiveRelease: %v, %v", ok, err)
		}
		return live
	}
	if _, ok, err := bot.FindLiveRelease(ctx, s, "acme/shop", "production"); ok || err != nil {
		t.Fatalf("nothing deployed: ok %v, err %v", ok, err)
	}
	add("r-1", bot.TriggerMerge, bot.StateSucceeded, "rel-1", "sha256:11", t0)
	add("r-2", bot.TriggerMerge, bot.StateSucceeded, "rel-2", "sha256:22", t0.Add(time.Hour))
	add("r-3", bot.TriggerMerge, bot.StateFailed, "rel-3", "sha256:33", t0.Add(2*time.Hour))
	if got, want := find(), (bot.LiveRelease{RequestID: "r-2", Release: "rel-2", ManifestDigest: "sha256:22"}); got != want {
		t.Errorf("after two deploys and a failure: %+v, want %+v", got, want)
	}
	add("r-4", bot.TriggerRollback, bot.StateSucceeded, "rel-1", "sha256:read-from-a-server", t0.Add(3*time.Hour))
	if got, want := find(), (bot.LiveRelease{RequestID: "r-4", Release: "rel-1", ManifestDigest: "sha256:11"}); got != want {
		t.Errorf("after a rollback: %+v, want %+v", got, want)
	}
}
