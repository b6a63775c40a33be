package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestAttestations: the first envelope saved for a request is the one
// kept (a retry writes the same bytes everywhere); marking it written
// appends the release.attested entry exactly once, on any process.
func TestAttestations(t *testing.T) { storetest.Run(t, testAttestations) }

func testAttestations(t *testing.T) {
	ctx := context.Background()
	a, path := openTemp(t, Options{})
	b, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	t0 := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	if _, err := a.Attestation(ctx, "req-1"); !errors.Is(err, ErrNoAttestation) {
		t.Fatalf("before saving: %v", err)
	}
	first := Attestation{RequestID: "req-1", Repo: "acme/api", Environment: "production", Release: "20260302140000-abcdef0",
		Envelope: []byte(`{"payload":"first"}` + "\n"), SignedAt: t0}
	got, err := a.SaveAttestation(ctx, first)
	if err != nil || string(got.Envelope) != string(first.Envelope) || got.Digest != EnvelopeDigest(first.Envelope) ||
		!got.SignedAt.Equal(t0) || !got.WrittenAt.IsZero() || got.Release != first.Release {
		t.Fatalf("saved %+v, %v", got, err)
	}
	second := first
	second.Envelope, second.SignedAt = []byte(`{"payload":"second"}`), t0.Add(time.Minute)
	if got, err := b.SaveAttestation(ctx, second); err != nil || string(got.Envelope) != string(first.Envelope) {
		t.Fatalf("a second signing replaced the first: %q, %v", got.Envelope, err)
	}

	ev := audit.Event{Actor: "tollgate", Action: "release.attested", Subject: "req-1", Data: map[string]string{"digest": got.Digest}}
	m1, err := a.MarkAttestationWritten(ctx, "req-1", t0.Add(2*time.Minute), ev)
	if err != nil || !m1.WrittenAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("marked %+v, %v", m1, err)
	}
	m2, err := b.MarkAttestationWritten(ctx, "req-1", t0.Add(3*time.Minute), ev)
	if err != nil || m2.AuditSeq != m1.AuditSeq || !m2.WrittenAt.Equal(m1.WrittenAt) {
		t.Fatalf("marked again: %+v, %v", m2, err)
	}
	entries, err := a.Audit().About(ctx, "req-1")
	if err != nil || len(entries) != 1 || entries[0].Action != "release.attested" || entries[0].Seq != m1.AuditSeq {
		t.Fatalf("audit entries %+v, %v; want one release.attested", entries, err)
	}
	if _, err := a.MarkAttestationWritten(ctx, "req-2", t0, ev); !errors.Is(err, ErrNoAttestation) {
		t.Fatalf("marking a request without one: %v", err)
	}
	all, err := b.AttestationsOf(ctx, []string{"req-1", "req-2"})
	if err != nil || len(all) != 1 || all["req-1"].AuditSeq != m1.AuditSeq {
		t.Fatalf("AttestationsOf = %+v, %v", all, err)
	}
}
