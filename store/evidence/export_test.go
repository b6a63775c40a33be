package evidence_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store/evidence"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestExportSegmentsProveAgainstTheCheckpoint(t *testing.T) {
	storetest.Run(t, testExportSegmentsProveAgainstTheCheckpoint)
}

func testExportSegmentsProveAgainstTheCheckpoint(t *testing.T) {
	ctx := context.Background()
	h := evidencetest.Build(t, 80, 5)
	from := h.From.AddDate(0, 0, 2)
	rng := evidence.Range{From: from, To: from.AddDate(0, 0, 3)}
	out := filepath.Join(t.TempDir(), "export")
	res, err := evidence.Export(ctx, h.Store, evidence.ExportOptions{Range: rng, Out: out, SegmentEntries: 50})
	if err != nil {
		t.Fatalf("Export: %v", err)
	}
	if res.First == 0 || len(res.Segments) < 2 || res.Unproven != 0 {
		t.Fatalf("exported seq %d..%d in %d segments, %d unproven; want a range starting mid-log in several segments",
			res.First, res.End-1, len(res.Segments), res.Unproven)
	}
	var want int64
	if err := h.Store.DB().QueryRow(`SELECT count(*) FROM audit_entries WHERE at >= ? AND at < ?`,
		rng.From.Format(time.RFC3339), rng.To.Format(time.RFC3339)).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if res.End-res.First != want {
		t.Errorf("exported %d entries, %d are dated in the range", res.End-res.First, want)
	}
	lines, err := evidence.VerifyExport(out, h.Keys.Verifier)
	if err != nil || len(lines) != len(res.Segments) {
		t.Fatalf("VerifyExport: %v\n%s", err, strings.Join(lines, "\n"))
	}

	seg := filepath.Join(out, res.Segments[1])
	orig, _ := os.ReadFile(seg)
	tests := []struct {
		name   string
		edit   func(string) string
		reason string
	}{
		{"an entry's actor changed", func(s string) string { return strings.Replace(s, `"actor":"tollgate"`, `"actor":"mallory"`, 1) }, "an entry was changed"},
		{"an entry removed", func(s string) string { _, rest, _ := strings.Cut(s, "\n"); return rest }, "want"},
		{"the last entry removed", func(s string) string {
			s = strings.TrimSuffix(s, "\n")
			return s[:strings.LastIndex(s, "\n")+1]
		}, "entries removed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(seg, []byte(tt.edit(string(orig))), 0o644); err != nil {
				t.Fatal(err)
			}
			defer os.WriteFile(seg, orig, 0o644)
			_, err := evidence.VerifyExport(out, h.Keys.Verifier)
			if err == nil || !strings.Contains(err.Error(), res.Segments[1]) || !strings.Contains(err.Error(), tt.reason) {
				t.Fatalf("VerifyExport = %v, want a failure naming %s (%s)", err, res.Segments[1], tt.reason)
			}
		})
	}

	t.Run("a range with no entries exports none", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "export")
		res, err := evidence.Export(ctx, h.Store, evidence.ExportOptions{Range: evidence.Range{From: h.To.AddDate(1, 0, 0), To: h.To.AddDate(2, 0, 0)}, Out: empty})
		if err != nil || len(res.Segments) != 0 {
			t.Fatalf("Export = %v, %v", res.Segments, err)
		}
	})
	t.Run("a non-empty output directory is refused", func(t *testing.T) {
		if _, err := evidence.Export(ctx, h.Store, evidence.ExportOptions{Range: rng, Out: out}); err == nil || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("Export into a used directory: %v", err)
		}
	})
}
