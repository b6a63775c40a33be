package evidence_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/evidence"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestAChangeThatWentLiveUnattestedIsAnException: in a history where the
// server attested every release that went live, one more deploy goes
// live without a release.attested entry (no attestation key, or it was
// never written). The pack lists exactly it as live_without_attestation.
func TestAChangeThatWentLiveUnattestedIsAnException(t *testing.T) {
	storetest.Run(t, testAChangeThatWentLiveUnattestedIsAnException)
}

func testAChangeThatWentLiveUnattestedIsAnException(t *testing.T) {
	ctx := context.Background()
	h := evidencetest.Build(t, 12, 3)
	team := []bot.Team{{Org: "acme", Slug: "deployers"}}
	p := &bot.EnvironmentPolicy{Repo: evidencetest.Repo, Environment: "unattested", Deployers: team, Branches: []string{"main"}}
	svc, err := bot.New(bot.Config{Store: h.Store, Directory: mfaTeams{"acme/deployers": {"alice"}},
		Changes: mainAt(strings.Repeat("c", 40)), Deployer: okDeployer{}, Policies: bot.NewPolicySet(p), Clock: h.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	out, err := svc.Submit(ctx, bot.NewRequest{SourceKey: "unattested", Repo: evidencetest.Repo, Environment: "unattested", Ref: "main",
		Trigger: bot.TriggerSlack, Requester: evidencetest.Alice})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ProcessQueue(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Store.Audit().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "pack")
	sum := buildPack(t, h, dir, 0, 0)
	var got []string
	for _, e := range sum.Exceptions {
		if e.Code == evidence.ExcLiveWithoutAttestation {
			got = append(got, e.RequestID+": "+e.Detail)
		}
	}
	want := out.Request.ID + ": release rel went live with no release.attested entry: no signed deployment attestation"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("live_without_attestation exceptions %q, want only %q", got, want)
	}
	found := false
	for _, r := range readCSV(t, filepath.Join(dir, "exceptions.csv")) {
		found = found || r["code"] == evidence.ExcLiveWithoutAttestation && r["request_id"] == out.Request.ID
	}
	if !found {
		t.Error("exceptions.csv does not list it")
	}
}
