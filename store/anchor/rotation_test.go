package anchor_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/anchor"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestAnchorsAcrossAKeyRotation(t *testing.T) { storetest.Run(t, testAnchorsAcrossAKeyRotation) }

func testAnchorsAcrossAKeyRotation(t *testing.T) {
	ctx := context.Background()
	// GitHub was down from the start: nothing, not even the old key's
	// shutdown checkpoint, was anchored before the rotation.
	rot := audittest.BuildRotated(t, 25, 20, 10)
	s, err := store.Open(ctx, rot.Path, store.Options{Signer: rot.New.Signer})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pub := &repoPublisher{files: map[string][][]byte{}}

	if n, err := anchor.New(s, pub, rot.New.Verifier, nil).PublishPending(ctx); err == nil || n != 0 ||
		!strings.Contains(err.Error(), "checkpoint to anchor does not verify: not signed by key new-key+") {
		t.Fatalf("publish with the new key only = %d, %v; want refused at the old key's checkpoint", n, err)
	}
	n, err := anchor.New(s, pub, rot.New.Verifier, nil).TrustPrevious(rot.Old.Verifier).PublishPending(ctx)
	if err != nil || n != 6 {
		t.Fatalf("publish trusting the old key = %d, %v; want all 6 checkpoints", n, err)
	}

	tests := []struct {
		name    string
		keys    audit.Keyring
		ok      bool
		checked int
		largest int64
		problem string
	}{
		{name: "old and new keys", keys: audit.Keyring{rot.Old.Verifier, rot.New.Verifier}, ok: true, checked: 6, largest: 45},
		{name: "the new key alone", keys: audit.Keyring{rot.New.Verifier},
			problem: "checkpoint 1 (tree size 10): not signed by key new-key+"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := anchor.Check(ctx, s.DB(), tt.keys, pub.anchored())
			if err != nil {
				t.Fatal(err)
			}
			if r.OK != tt.ok || r.Checked != tt.checked || r.Largest != tt.largest {
				t.Fatalf("report ok=%v checked=%d largest=%d local=%v anchored=%v", r.OK, r.Checked, r.Largest, r.Local.Problem, r.Problem)
			}
			if tt.problem != "" && (r.Local.Problem == nil || !strings.HasPrefix(r.Local.Problem.String(), tt.problem)) {
				t.Fatalf("local problem %v, want %s", r.Local.Problem, tt.problem)
			}
		})
	}
}
