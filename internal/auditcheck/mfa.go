package auditcheck

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/mfaproof"
	"github.com/tollgate-dev/tollgate/store"
)

// MFAReport is what VerifyMFA found.
type MFAReport struct {
	Checked  int      // entries carrying a security key assertion
	Problems []string // one line per assertion that does not re-verify
}

// OK reports whether every assertion re-verifies.
func (r MFAReport) OK() bool { return len(r.Problems) == 0 }

// VerifyMFA re-verifies, offline, every security key assertion recorded in
// the audit log (approvals, emergency changes and their reviews, issue 14),
// each against the credentials the log had registered by then
// and prints a line for the report (none when there are none): how many,
// and each that fails.
func VerifyMFA(ctx context.Context, s *store.Store, w io.Writer) (MFAReport, error) {
	var r MFAReport
	actions := append([]string{bot.ActionMFARegistered, bot.ActionMFARemoved, bot.ActionMFARevoked}, mfaproof.Actions...)
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(actions)), ", ")
	args := make([]any, len(actions))
	for i, a := range actions {
		args[i] = a
	}
	rows, err := s.DB().QueryContext(ctx, `SELECT seq, at, action, subject, data FROM audit_entries
		WHERE action IN (`+marks+`) ORDER BY seq`, args...)
	reg := mfaproof.NewRegistry()
	if err != nil {
		return r, fmt.Errorf("reading the entries that may carry security key assertions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var at, action, subject string
		var data sql.RawBytes
		if err := rows.Scan(&seq, &at, &action, &subject, &data); err != nil {
			return r, fmt.Errorf("reading audit entries: %w", err)
		}
		reg.Observe(seq, action, data)
		carried, err := mfaproof.CheckEntry(reg, action, subject, mfaproof.EntryTime(at), data)
		if !carried {
			continue
		}
		r.Checked++
		if err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("entry %d (%s %s): %v", seq, action, subject, err))
		}
	}
	if err := rows.Err(); err != nil {
		return r, fmt.Errorf("reading audit entries: %w", err)
	}
	switch {
	case r.Checked == 0: // nothing to say: the report reads as it did before security keys
	case r.OK():
		fmt.Fprintf(w, "security keys:   %d recorded assertions re-verified (signature, and binding to what was authorised)\n", r.Checked)
	default:
		fmt.Fprintf(w, "security keys:   %d recorded assertions, %d do not re-verify\n", r.Checked, len(r.Problems))
		for _, p := range r.Problems {
			fmt.Fprintf(w, "FAIL: %s\n", p)
		}
	}
	return r, nil
}
