package server

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

// refusingWriter fails the test if anything is written: a release whose
// attestation cannot be signed has nothing to write.
type refusingWriter struct{ t *testing.T }

func (w refusingWriter) WriteAttestation(context.Context, string, string, string, []byte) error {
	w.t.Error("an attestation was written for a release that cannot be attested")
	return errors.New("refused")
}

// TestAnUnattestableReleaseDoesNotHoldUpTheOutbox: a release went live
// whose record cannot make a valid attestation (here a commit that is not
// a full SHA). Retrying cannot help and would hold the request's later
// notifications back, so the destination logs it loudly and reports it
// delivered; no release.attested is written, so the evidence pack lists
// the change as live_without_attestation.
func TestAnUnattestableReleaseDoesNotHoldUpTheOutbox(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keys := audittest.NewKeys(t, dir, audittest.KeyName)
	st, err := store.Open(ctx, filepath.Join(dir, "tollgate.db"), store.Options{Signer: keys.Signer, CheckpointEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := attest.GenerateKeyFiles(filepath.Join(dir, "a.key"), filepath.Join(dir, "a.pub"), "test-attestation"); err != nil {
		t.Fatal(err)
	}
	key, err := attest.LoadSigningKey(filepath.Join(dir, "a.key"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	r := bot.Request{ID: "r-bad", Repo: "acme/shop", Environment: "staging", SHA: "c0ffee", Trigger: bot.TriggerMerge,
		Requester: bot.Identity{Login: "alice", GitHubID: 7}, ConfigHash: "h", State: bot.StateSucceeded,
		Decision: &bot.Decision{Allowed: true, At: now},
		Result: &bot.DeployOutcome{Result: bot.ResultSucceeded, Release: "20260302140000-c0ffee0", ManifestDigest: "sha256:" + strings.Repeat("a", 64),
			Targets:   []bot.DeployTarget{{Host: "web1", Port: 22, HostKeySHA256: "SHA256:" + strings.Repeat("A", 43), SwitchedAt: now}},
			StartedAt: now, SwitchedAt: now, FinishedAt: now.Add(time.Second)}}
	if err := st.AppendAudit(ctx, bot.AuditEvent{Actor: "tollgate", Action: bot.ActionDeployFinished, Subject: r.ID}); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	d := &attestationDestination{store: st, key: &key, writer: refusingWriter{t}, now: func() time.Time { return now },
		log:          slog.New(slog.NewTextHandler(&logs, nil)),
		hasServers:   func(string, string) bool { return true },
		reviewWithin: func(string, string) time.Duration { return time.Hour }}
	if err := d.Notify(ctx, bot.Notification{Kind: bot.NotifyFinished, Request: r}); err != nil {
		t.Fatalf("Notify: %v (a retry cannot help)", err)
	}
	if !strings.Contains(logs.String(), `level=ERROR msg="release went live UNATTESTED: its attestation cannot be signed" request=r-bad`) ||
		!strings.Contains(logs.String(), `is not a full lowercase hex commit SHA`) {
		t.Errorf("log does not say it loudly:\n%s", logs.String())
	}
	if _, err := st.Attestation(ctx, r.ID); !errors.Is(err, store.ErrNoAttestation) {
		t.Errorf("an attestation was stored: %v", err)
	}
	entries, err := st.Audit().About(ctx, r.ID)
	if err != nil || len(entries) != 1 {
		t.Errorf("audit entries %v, %v: want no release.attested", entries, err)
	}
}
