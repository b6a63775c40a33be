package evidence

import "testing"

// The headline counts what each deployed change went through and never
// says every change had its approvals when an emergency change is among
// them.
func TestHeadline(t *testing.T) {
	tests := []struct {
		p    population
		want string
	}{
		{population{}, "No change was deployed in this range."},
		{population{Deployed: 5, Approved: 1, NoApprovalRequired: 3, Emergency: 1, EmergencyAcceptable: 1},
			"Of 5 deployed changes, 1 had its required approvals before it started, from people other than its requester and PR author; " +
				"3 needed no approval in their environments; and 1 was an emergency change: approvals skipped by policy (1 reviewed acceptable after the fact)."},
		{population{Deployed: 1, Emergency: 1, EmergencyPending: 1},
			"The 1 deployed change was an emergency change: approvals skipped by policy (1 awaiting review, not yet due)."},
		{population{Deployed: 4, Approved: 2, Emergency: 2, EmergencyNotAcceptable: 1, EmergencyAcceptable: 1, EmergencyReviewedLate: 1},
			"Of 4 deployed changes, 2 had their required approvals before they started, from people other than their requester and PR author; " +
				"and 2 were emergency changes: approvals skipped by policy (1 reviewed acceptable after the fact, 1 reviewed not acceptable, 1 review given after its due time)."},
		{population{Deployed: 2, ShortOfApprovals: 1, Emergency: 1, EmergencyOverdue: 1},
			"Of 2 deployed changes, 1 started without the approvals it required (see the exceptions); " +
				"and 1 was an emergency change: approvals skipped by policy (1 overdue for review)."},
	}
	for _, tt := range tests {
		if got := tt.p.Headline(); got != tt.want {
			t.Errorf("Headline(%+v) =\n%q\nwant\n%q", tt.p, got, tt.want)
		}
	}
	if got := (population{AuditVerified: true}).Verdict(); got != "No exceptions; the audit log verified." {
		t.Errorf("Verdict = %q", got)
	}
	if got := (population{Exceptions: 1}).Verdict(); got != "1 exception (listed below); the audit log did NOT verify." {
		t.Errorf("Verdict = %q", got)
	}
}
