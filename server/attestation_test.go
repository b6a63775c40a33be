package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

// refusingWriter fails the test if anything is written: a release whose
// attestation cannot be signed has nothing to write.
type refusingWriter struct{ t *testing.T }

func (w refusingWriter) WriteAttestation(context.Context, string, string, string, []byte) error {
	w.t.Error("an attestation was written for a release that cannot be attested")
	return errors.New("refused")
}

// attestationStore opens a store whose audit log signs checkpoints, and
// makes an attestation signing key, in a temporary directory.
func attestationStore(t *testing.T) (*store.Store, attest.SigningKey, audittest.Keys) {
	t.Helper()
	dir := t.TempDir()
	keys := audittest.NewKeys(t, dir, audittest.KeyName)
	st, err := store.Open(context.Background(), filepath.Join(dir, "tollgate.db"), store.Options{Signer: keys.Signer, CheckpointEvery: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := attest.GenerateKeyFiles(filepath.Join(dir, "a.key"), filepath.Join(dir, "a.pub"), "test-attestation"); err != nil {
		t.Fatal(err)
	}
	key, err := attest.LoadSigningKey(filepath.Join(dir, "a.key"))
	if err != nil {
		t.Fatal(err)
	}
	return st, key, keys
}

// TestAnUnattestableReleaseDoesNotHoldUpTheOutbox: a release went live
// whose record cannot make a valid attestation (here a commit that is not
// a full SHA). Retrying cannot help and would hold the request's later
// notifications back, so the destination logs it loudly and reports it
// delivered; no release.attested is written, so the evidence pack lists
// the change as live_without_attestation.
func TestAnUnattestableReleaseDoesNotHoldUpTheOutbox(t *testing.T) {
	ctx := context.Background()
	st, key, _ := attestationStore(t)
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

// recordingWriter keeps what was written, per release.
type recordingWriter map[string][]byte

func (w recordingWriter) WriteAttestation(_ context.Context, _, _, release string, envelope []byte) error {
	w[release] = envelope
	return nil
}

// TestARollbackIsAttestedOnlyAsDeployed: a rollback reads the release's
// manifest and commit back from a server. An intruder who rewrote both
// there (files, manifest and the release's sha file) must not get them
// signed: the rollback is attested with the commit Tollgate deployed, and
// not at all when the server's manifest is not the one Tollgate verified
// when it deployed the release, or when Tollgate never deployed it.
func TestARollbackIsAttestedOnlyAsDeployed(t *testing.T) {
	ctx := context.Background()
	st, key, keys := attestationStore(t)
	now := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	deployed, forged := strings.Repeat("d", 40), strings.Repeat("f", 40)
	digest := "sha256:" + strings.Repeat("a", 64)
	const release = "20260302130000-ddddddd"
	request := func(id string, trigger bot.Trigger, sha, rel, manifest string) bot.Request {
		return bot.Request{ID: id, SourceKey: id, Repo: "acme/shop", Environment: "staging", SHA: sha, Trigger: trigger,
			Requester: bot.Identity{Login: "alice", GitHubID: 7}, ConfigHash: "h", State: bot.StateSucceeded,
			Decision: &bot.Decision{Allowed: true, At: now},
			Result: &bot.DeployOutcome{Result: bot.ResultSucceeded, Release: rel, ManifestDigest: manifest, SHA: sha,
				Targets:   []bot.DeployTarget{{Host: "web1", Port: 22, HostKeySHA256: "SHA256:" + strings.Repeat("A", 43), SwitchedAt: now}},
				StartedAt: now, SwitchedAt: now, FinishedAt: now.Add(time.Second)},
			CreatedAt: now, FinishedAt: now.Add(time.Second)}
	}
	if _, _, err := st.CreateRequest(ctx, request("r-deploy", bot.TriggerMerge, deployed, release, digest), nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, release, manifest string
		wantLog                 string // empty: attested
	}{
		{"the server's manifest as deployed", release, digest, ""},
		{"the server's manifest rewritten", release, "sha256:" + strings.Repeat("b", 64), "Tollgate deployed it with " + digest + " (request r-deploy)"},
		{"a release Tollgate never deployed", "20260302120000-fffffff", digest, "Tollgate has no record of deploying release 20260302120000-fffffff"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The rollback's own record carries the commit read from the
			// server's sha file: the intruder's.
			r := request(fmt.Sprintf("r-rollback-%d", i), bot.TriggerRollback, forged, tt.release, tt.manifest)
			r.SHA = ""
			if err := st.AppendAudit(ctx, bot.AuditEvent{Actor: "tollgate", Action: bot.ActionDeployFinished, Subject: r.ID}); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			written := recordingWriter{}
			d := &attestationDestination{store: st, key: &key, writer: written, now: func() time.Time { return now },
				log:          slog.New(slog.NewTextHandler(&logs, nil)),
				hasServers:   func(string, string) bool { return true },
				reviewWithin: func(string, string) time.Duration { return time.Hour }}
			if err := d.Notify(ctx, bot.Notification{Kind: bot.NotifyFinished, Request: r}); err != nil {
				t.Fatalf("Notify: %v", err)
			}
			env, ok := written[tt.release]
			if tt.wantLog != "" {
				if ok || !strings.Contains(logs.String(), "UNATTESTED") || !strings.Contains(logs.String(), tt.wantLog) {
					t.Errorf("written %v; log:\n%s\nwant no attestation and %q", ok, logs.String(), tt.wantLog)
				}
				return
			}
			if !ok {
				t.Fatalf("nothing written; log:\n%s", logs.String())
			}
			v, err := attest.Verify(ctx, env, attest.Keys{Attestation: []attest.PublicKey{key.Public()}, Audit: audit.Keyring{keys.Verifier}}, attest.Expectations{})
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Statement.Predicate.Commit; got != deployed {
				t.Errorf("attested commit %s, want the deployed %s (not the server's %s)", got, deployed, forged)
			}
		})
	}
}
