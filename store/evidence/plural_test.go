package evidence

import (
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// The pack's texts count one thing in the singular: verify.txt and the
// unsigned_tail exception say "1 entry", never "1 entries".
func TestPackTextsSayOneEntry(t *testing.T) {
	r := audit.Report{OK: true, Size: 5, Checkpoints: 1, HasCheckpoint: true, UnsignedTail: 1,
		LastCheckpoint: audit.Checkpoint{Size: 4, KeyName: "test"}}
	got := FormatVerify("tollgate.db", "test", r) + unsignedTailText(r)
	for _, want := range []string{
		"unsigned tail:   1 entry after the last signed checkpoint\n",
		"OK (signed through seq 3; 1 unsigned entry after it)\n",
		"1 entry (seq 4) is after the last signed checkpoint: consistent, but no signature covers it",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	failed := FormatVerify("tollgate.db", "test", audit.Report{Size: 1, Problem: &audit.Problem{Seq: 1, Reason: "leaf hash does not match"}})
	if !strings.Contains(failed, "verified:        1 entry before the first problem\n") {
		t.Errorf("failed verify:\n%s", failed)
	}
	if strings.Contains(got+failed, "1 entries") || strings.Contains(got+failed, "1 unsigned entries") {
		t.Errorf("a plural after 1:\n%s%s", got, failed)
	}
}
