package attest

import (
	"fmt"
	"strings"
)

// ValidApprovals returns the approvals that count for the deploy: of the
// attested commit, under the attested policy, given before the deploy
// started, by someone other than the requester, one per person (by GitHub
// id, then login), in order.
func (p Predicate) ValidApprovals() []Approval {
	var out []Approval
	seen := map[int64]bool{}
	seenLogin := map[string]bool{}
	for _, a := range p.Approvals {
		login := strings.ToLower(a.Approver.Login)
		switch {
		case a.Commit != p.Commit || a.PolicyHash != p.Policy.Hash || a.At.After(p.StartedAt):
			continue
		case a.Approver.GitHubID == p.Requester.GitHubID || strings.EqualFold(a.Approver.Login, p.Requester.Login):
			continue
		case seen[a.Approver.GitHubID] || seenLogin[login]:
			continue
		}
		seen[a.Approver.GitHubID], seenLogin[login] = true, true
		out = append(out, a)
	}
	return out
}

type namedCheck struct {
	name string
	err  error
}

// expectationChecks runs the expectations exp sets, in a fixed order.
func expectationChecks(p Predicate, exp Expectations) []namedCheck {
	var out []namedCheck
	same := func(name, want, got string) {
		if want == "" {
			return
		}
		var err error
		if got != want {
			err = fmt.Errorf("the deploy is of %s %q, want %q", name, got, want)
		}
		out = append(out, namedCheck{name, err})
	}
	same(CheckRepository, exp.Repository, p.Repository)
	same(CheckEnvironment, exp.Environment, p.Environment)
	same(CheckCommit, exp.Commit, p.Commit)
	if exp.MinApprovals > 0 {
		var err error
		if n := len(p.ValidApprovals()); n < exp.MinApprovals {
			err = fmt.Errorf("%d valid approval(s) (of commit %.7s under policy %s, before the deploy started, not by the requester %s), want at least %d",
				n, p.Commit, p.Policy.Hash, p.Requester.Login, exp.MinApprovals)
		}
		out = append(out, namedCheck{CheckMinApprovals, err})
	}
	if exp.NotEmergency {
		var err error
		if p.Emergency.Declared {
			err = fmt.Errorf("the deploy was an emergency change (reason %q, review %s)", p.Reason, p.Emergency.ReviewState)
		}
		out = append(out, namedCheck{CheckNotEmergency, err})
	}
	return out
}
