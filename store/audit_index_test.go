package store

import (
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestAuditSubjectLookupsUseTheIndex: the deployment page and PR comments
// look a request's audit entries up by subject; on a log of years that
// must be an index search, not a scan of every entry.
func TestAuditSubjectLookupsUseTheIndex(t *testing.T) {
	storetest.Run(t, testAuditSubjectLookupsUseTheIndex)
}

func testAuditSubjectLookupsUseTheIndex(t *testing.T) {
	s, _ := openTemp(t, Options{})
	tests := []struct {
		name, query string
	}{
		{"entries of a request in order", `SELECT seq FROM audit_entries WHERE subject = ? ORDER BY seq`},
		{"latest entry of a request", `SELECT max(seq) FROM audit_entries WHERE subject = ?`},
		{"entries of a request with their fields", `SELECT seq, at, actor, action, subject, data, leaf_hash FROM audit_entries WHERE subject = ? ORDER BY seq`},
	}
	if s.Engine() == "PostgreSQL" {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) { checkPostgresPlan(t, s, tt.query) })
		}
		return
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

// checkPostgresPlan wants PostgreSQL's plan of query to read
// audit_entries_subject and not sort. On a table this small the planner
// would rightly scan it, so scans that read the table first are priced
// out, as a log of years prices them.
func checkPostgresPlan(t *testing.T, s *Store, query string) {
	ctx := context.Background()
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.QueryContext(ctx, "EXPLAIN "+query, "req-1")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, strings.TrimSpace(line))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(plan, "; ")
	if !strings.Contains(got, "audit_entries_subject") || strings.Contains(got, "Sort") {
		t.Fatalf("plan %q: want a scan of audit_entries_subject and no sort", got)
	}
}
