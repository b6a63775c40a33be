package store

import (
	"context"
	"errors"
	"reflect"
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
