package signature

import (
	"bytes"
	"errors"
	"testing"
)

// A budget charges what a body holds as it grows, refuses what does not
// fit, and gets every byte back on release.
func TestBudgetBoundsUnverifiedBodies(t *testing.T) {
	b := NewBudget(1 << 20)
	sent := bytes.Repeat([]byte("x"), 300<<10)
	got, release, err := b.ReadBody(bytes.NewReader(sent), -1)
	if err != nil || !bytes.Equal(got, sent) {
		t.Fatalf("read %d bytes, %v; want the %d sent", len(got), err, len(sent))
	}
	held := b.InUse()
	if held < int64(len(sent)) || held > 2*int64(len(sent)) {
		t.Fatalf("%d bytes charged for a %d-byte body", held, len(sent))
	}
	_, release2, err := b.ReadBody(bytes.NewReader(bytes.Repeat([]byte("y"), 900<<10)), 900<<10)
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("a second body past the budget: %v, want ErrBusy", err)
	}
	release2()
	if b.InUse() != held {
		t.Fatalf("a refused body kept %d bytes charged", b.InUse()-held)
	}
	release()
	if b.InUse() != 0 {
		t.Fatalf("%d bytes still charged after both releases", b.InUse())
	}
	var none *Budget
	if _, rel, err := none.ReadBody(bytes.NewReader(sent), int64(len(sent))); err != nil {
		t.Fatalf("a nil budget bounds nothing: %v", err)
	} else {
		rel()
	}
}
