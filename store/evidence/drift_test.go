package evidence_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestPackListsEveryDriftFoundInThePeriod(t *testing.T) {
	storetest.Run(t, testPackListsEveryDriftFoundInThePeriod)
}

// testPackListsEveryDriftFoundInThePeriod: a drift check found an edited
// and an added file on a production server, then a later check found it
// clean; the pack lists the drift as an exception naming the
// environment, the server and the paths, and nothing for the clean check.
func testPackListsEveryDriftFoundInThePeriod(t *testing.T) {
	ctx := context.Background()
	h := evidencetest.Build(t, 12, 3)
	check := func(paths map[string][]string) {
		t.Helper()
		h.Clock.Advance(time.Hour)
		c := bot.DriftCheck{Repo: evidencetest.Repo, Environment: "production", CheckedAt: h.Clock.Now(),
			Expected: bot.LiveRelease{RequestID: "r-live", Release: "20260101000000-abcdef1"},
			Servers:  []bot.DriftServer{{Server: "web2:22", Live: "20260101000000-abcdef1", Paths: paths}}}
		if _, err := bot.RecordDrift(ctx, h.Store, nil, c); err != nil {
			t.Fatal(err)
		}
	}
	check(map[string][]string{"changed": {"lib/auth.php"}, "added": {"shell.php"}})
	check(nil)
	if _, err := h.Store.Audit().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	h.To = h.Clock.Now().Truncate(24 * time.Hour).Add(24 * time.Hour)
	out := filepath.Join(t.TempDir(), "pack")
	sum := buildPack(t, h, out, 0, 0)
	var found []string
	for _, e := range readCSV(t, filepath.Join(out, "exceptions.csv")) {
		if e["code"] == "release_drift_detected" {
			found = append(found, e["detail"])
		}
	}
	if len(found) != 1 {
		t.Fatalf("drift exceptions %q, want one", found)
	}
	for _, want := range []string{evidencetest.Repo + " production", "20260101000000-abcdef1", "web2:22", "added shell.php", "changed lib/auth.php"} {
		if !strings.Contains(found[0], want) {
			t.Errorf("the exception lacks %q: %s", want, found[0])
		}
	}
	n := 0
	for _, e := range sum.Exceptions {
		if e.Code == "release_drift_detected" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("summary has %d drift exceptions", n)
	}
}
