package store

import (
	"strings"
	"testing"
)

// TestAuditSubjectLookupsUseTheIndex: the deployment page and PR comments
// look a request's audit entries up by subject; on a log of years that
// must be an index search, not a scan of every entry.
func TestAuditSubjectLookupsUseTheIndex(t *testing.T) {
	s, _ := openTemp(t, Options{})
	tests := []struct {
		name, query string
	}{
		{"entries of a request in order", `SELECT seq FROM audit_entries WHERE subject = ? ORDER BY seq`},
		{"latest entry of a request", `SELECT max(seq) FROM audit_entries WHERE subject = ?`},
		{"entries of a request with their fields", `SELECT seq, at, actor, action, subject, data, leaf_hash FROM audit_entries WHERE subject = ? ORDER BY seq`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := queryPlan(t, s, tt.query, "req-1")
			if !strings.Contains(got, "INDEX audit_entries_subject (subject=?)") || strings.Contains(got, "TEMP B-TREE") {
				t.Fatalf("plan %q: want a search of audit_entries_subject and no sort", got)
			}
		})
	}
}
