package evidence_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/evidence"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// Issue 10, defect 3: a deploy that started holding an approval past its
// expiry (as Tollgate before the recheck at start allowed) has that
// approval not counted, and is flagged as an exception. The entries are
// written as that Tollgate wrote them.
func TestPackFlagsADeployStartedOnAnExpiredApproval(t *testing.T) {
	storetest.Run(t, testPackFlagsADeployStartedOnAnExpiredApproval)
}

func testPackFlagsADeployStartedOnAnExpiredApproval(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys := audittest.NewKeys(t, dir, audittest.KeyName)
	day := time.Date(2025, 3, 14, 0, 0, 0, 0, time.UTC)
	now := day.Add(9 * time.Hour)
	clock := func() time.Time { return now }
	st, err := store.Open(ctx, storetest.LocationIn(t, dir), store.Options{Signer: keys.Signer, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const id = "r-expired"
	approvedAt := now
	at := func(d time.Duration, ev bot.AuditEvent) {
		now = day.Add(9*time.Hour + d)
		if err := st.AppendAudit(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	sha := "1111111111111111111111111111111111111111"
	at(0, bot.AuditEvent{Actor: "alice", Action: bot.ActionRequestCreated, Subject: id, Data: map[string]any{
		"repo": "acme/shop", "environment": "production", "sha": sha, "trigger": "slack", "requester": "alice", "requester_id": 1}})
	at(0, bot.AuditEvent{Actor: "tollgate", Action: bot.ActionPolicyDecided, Subject: id,
		Data: bot.Decision{Allowed: true, ConfigHash: "h"}})
	at(time.Minute, bot.AuditEvent{Actor: "carol", Action: bot.ActionApprovalGranted, Subject: id, Data: map[string]any{
		"approver": "carol", "approver_id": 3, "sha": sha, "expires_at": approvedAt.Add(time.Hour), "count": 1, "required": 1}})
	at(3*time.Hour, bot.AuditEvent{Actor: "tollgate", Action: bot.ActionDeployStarted, Subject: id, Data: map[string]any{
		"repo": "acme/shop", "environment": "production", "sha": sha, "approvers": "carol"}})
	at(3*time.Hour+time.Minute, bot.AuditEvent{Actor: "tollgate", Action: bot.ActionDeployFinished, Subject: id, Data: map[string]any{
		"repo": "acme/shop", "environment": "production", "sha": sha, "result": "succeeded"}})
	if _, err := st.Audit().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	sum, err := evidence.Build(ctx, st, evidence.Options{Range: evidence.Range{From: day, To: day.Add(24 * time.Hour)},
		Out: filepath.Join(dir, "pack"), Signer: keys.Signer, Verifier: keys.Verifier, Now: clock, Source: "tollgate.db"})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, e := range sum.Exceptions {
		if e.RequestID == id {
			codes = append(codes, e.Code)
		}
	}
	for _, want := range []string{evidence.ExcApprovalExpiredAtStart, evidence.ExcProductionWithoutApproval} {
		if !slices.Contains(codes, want) {
			t.Errorf("exceptions of %s: %v, want %s", id, codes, want)
		}
	}
}
