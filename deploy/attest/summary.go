package attest

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteSummary writes what a verified attestation says, for a person:
// the lines `tollgate attest verify` prints after "OK", and the demo
// too. name is the file verified.
func (v Verified) WriteSummary(w io.Writer, name string) {
	p := v.Statement.Predicate
	fmt.Fprintf(w, "OK: %s (%s)\n", name, v.EnvelopeDigest)
	fmt.Fprintf(w, "  deploy:     release %s of %s@%.7s to %s, %s at %s\n", p.Release, p.Repository, p.Commit,
		p.Environment, p.Result, p.FinishedAt.Format(time.RFC3339))
	servers := make([]string, len(p.Servers))
	for i, s := range p.Servers {
		servers[i] = fmt.Sprintf("%s:%d (%s)", s.Host, s.Port, s.HostKeySHA256)
	}
	fmt.Fprintf(w, "  servers:    %s\n", strings.Join(servers, ", "))
	fmt.Fprintf(w, "  manifest:   %s\n", v.Statement.ManifestDigest)
	fmt.Fprintf(w, "  requested:  by %s (github id %d) via %s, request %s\n", p.Requester.Login, p.Requester.GitHubID, p.Trigger, p.RequestID)
	valid := p.ValidApprovals()
	names := make([]string, len(valid))
	for i, a := range valid {
		names[i] = fmt.Sprintf("%s (%d)", a.Approver.Login, a.Approver.GitHubID)
	}
	fmt.Fprintf(w, "  approvals:  %d valid of %d required: %s\n", len(valid), p.RequiredApprovals, strings.Join(names, ", "))
	emergency := "no"
	if p.Emergency.Declared {
		emergency = fmt.Sprintf("yes (reason %q, review %s)", p.Reason, p.Emergency.ReviewState)
	}
	fmt.Fprintf(w, "  emergency:  %s\n", emergency)
	fmt.Fprintf(w, "  audit:      %s proven in the log of %s signed by %s at %s\n",
		count(int64(len(p.Audit.Entries))), count(v.Checkpoint.Size), v.Checkpoint.Key, v.Checkpoint.Time.Format(time.RFC3339))
	fmt.Fprintf(w, "  signed by:  %s\n", v.KeyID)
	fmt.Fprintf(w, "  checks:     %s\n", strings.Join(v.Checks, ", "))
}

// count says how many audit entries n is.
func count(n int64) string {
	if n == 1 {
		return "1 entry"
	}
	return fmt.Sprintf("%d entries", n)
}
