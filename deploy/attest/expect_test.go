package attest_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy/attest"
)

func TestExpectations(t *testing.T) {
	bob := attest.Person{GitHubID: 1002, Login: "bob"}
	tests := []struct {
		name   string
		change func(*attest.Predicate)
		exp    attest.Expectations
		check  string // "" means it passes
		want   string
	}{
		{name: "all met", exp: attest.Expectations{Repository: "acme/shop", Environment: "production", Commit: commitSHA, MinApprovals: 2, NotEmergency: true}},
		{name: "environment", exp: attest.Expectations{Environment: "staging"},
			check: attest.CheckEnvironment, want: `the deploy is of environment "production", want "staging"`},
		{name: "repository", exp: attest.Expectations{Repository: "acme/other"},
			check: attest.CheckRepository, want: `the deploy is of repository "acme/shop", want "acme/other"`},
		{name: "commit", exp: attest.Expectations{Commit: otherSHA}, check: attest.CheckCommit, want: "want \"" + otherSHA},
		{name: "too few approvals", exp: attest.Expectations{MinApprovals: 3},
			check: attest.CheckMinApprovals, want: "2 valid approval(s) (of commit 8f3c2a1 under policy " + policyHash + ", before the deploy started, not by the requester alice), want at least 3"},
		{name: "approval of another commit", change: func(p *attest.Predicate) { p.Approvals[1].Commit = otherSHA },
			exp: attest.Expectations{MinApprovals: 2}, check: attest.CheckMinApprovals, want: "1 valid approval(s)"},
		{name: "approval under another policy", change: func(p *attest.Predicate) { p.Approvals[1].PolicyHash = "sha256:00" },
			exp: attest.Expectations{MinApprovals: 2}, check: attest.CheckMinApprovals, want: "1 valid approval(s)"},
		{name: "approval after the start", change: func(p *attest.Predicate) { p.Approvals[1].At = p.StartedAt.Add(time.Second) },
			exp: attest.Expectations{MinApprovals: 2}, check: attest.CheckMinApprovals, want: "1 valid approval(s)"},
		{name: "the requester's own approval", change: func(p *attest.Predicate) { p.Approvals[1].Approver = attest.Person{GitHubID: 1001, Login: "alice"} },
			exp: attest.Expectations{MinApprovals: 2}, check: attest.CheckMinApprovals, want: "1 valid approval(s)"},
		{name: "the requester under another login", change: func(p *attest.Predicate) { p.Approvals[1].Approver = attest.Person{GitHubID: 9, Login: "ALICE"} },
			exp: attest.Expectations{MinApprovals: 2}, check: attest.CheckMinApprovals, want: "1 valid approval(s)"},
		{name: "one person twice", change: func(p *attest.Predicate) { p.Approvals[1].Approver = bob },
			exp: attest.Expectations{MinApprovals: 2}, check: attest.CheckMinApprovals, want: "1 valid approval(s)"},
		{name: "emergency", change: func(p *attest.Predicate) {
			p.Approvals = nil
			p.Emergency = attest.Emergency{Declared: true, ReviewState: attest.ReviewPending, ReviewDueAt: p.FinishedAt.Add(24 * time.Hour)}
		}, exp: attest.Expectations{NotEmergency: true}, check: attest.CheckNotEmergency,
			want: `the deploy was an emergency change (reason "ship the <checkout> fix & more", review pending)`},
		{name: "first failing expectation named", change: func(p *attest.Predicate) {
			p.Emergency = attest.Emergency{Declared: true, ReviewState: attest.ReviewAcceptable, ReviewDueAt: p.FinishedAt}
		},
			exp: attest.Expectations{Environment: "staging", NotEmergency: true}, check: attest.CheckEnvironment, want: "want \"staging\""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.change != nil {
				tc.change(&f.statement.Predicate)
			}
			v, err := attest.Verify(context.Background(), f.sign(t), f.keys(), tc.exp)
			if tc.check == "" {
				if err != nil {
					t.Fatal(err)
				}
				want := []string{attest.CheckEnvelope, attest.CheckSignature, attest.CheckStatement, attest.CheckAuditProof, attest.CheckKeyRetired,
					attest.CheckRepository, attest.CheckEnvironment, attest.CheckCommit, attest.CheckMinApprovals, attest.CheckNotEmergency}
				if !reflect.DeepEqual(v.Checks, want) {
					t.Fatalf("checks %v, want %v", v.Checks, want)
				}
				return
			}
			var ce *attest.CheckError
			if !errors.As(err, &ce) || ce.Check != tc.check || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify: %v\nwant check %q failing with %q", err, tc.check, tc.want)
			}
		})
	}
}
