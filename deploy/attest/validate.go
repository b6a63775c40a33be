package attest

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// The shapes docs/attestation.schema.json gives the same fields.
var (
	repoPattern        = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$`)
	commitPattern      = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)
	sha256Pattern      = regexp.MustCompile(`^[0-9a-f]{64}$`)
	fingerprintPattern = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`)
	wordPattern        = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// validate checks that p is a complete, consistent deployment predicate.
// It returns the first problem, naming the field as the JSON does.
func (p Predicate) validate() error {
	for _, f := range []struct{ name, val string }{
		{"environment", p.Environment}, {"release", p.Release}, {"request_id", p.RequestID},
		{"requester.login", p.Requester.Login}, {"policy.hash", p.Policy.Hash},
	} {
		if f.val == "" {
			return fmt.Errorf("%s is empty", f.name)
		}
	}
	switch {
	case !repoPattern.MatchString(p.Repository):
		return fmt.Errorf("repository %q is not owner/name", p.Repository)
	case !commitPattern.MatchString(p.Commit):
		return fmt.Errorf("commit %q is not a full lowercase hex commit SHA", p.Commit)
	case !wordPattern.MatchString(p.Trigger):
		return fmt.Errorf("trigger %q is not a trigger name", p.Trigger)
	case p.Requester.GitHubID <= 0:
		return fmt.Errorf("requester.github_id %d is not a GitHub account id", p.Requester.GitHubID)
	case len(p.Servers) == 0:
		return errors.New("servers is empty")
	case p.RequiredApprovals < 0:
		return fmt.Errorf("required_approvals %d is negative", p.RequiredApprovals)
	}
	for i, s := range p.Servers {
		if err := s.validate(); err != nil {
			return fmt.Errorf("servers[%d]: %w", i, err)
		}
	}
	for i, a := range p.Approvals {
		if err := a.validate(); err != nil {
			return fmt.Errorf("approvals[%d]: %w", i, err)
		}
	}
	if p.Policy.DecidedAt.IsZero() {
		return errors.New("policy.decided_at is missing")
	}
	for i, c := range p.Policy.Checks {
		if !wordPattern.MatchString(c.Name) {
			return fmt.Errorf("policy.checks[%d]: name %q is not a check name", i, c.Name)
		}
		if c.Outcome != OutcomePass && c.Outcome != OutcomeFail && c.Outcome != OutcomeSkipped {
			return fmt.Errorf("policy.checks[%d] (%s): outcome %q is not pass, fail or skipped", i, c.Name, c.Outcome)
		}
	}
	if err := p.Emergency.validate(p.Reason); err != nil {
		return fmt.Errorf("emergency: %w", err)
	}
	if err := p.validateTimes(); err != nil {
		return err
	}
	return p.Audit.validate()
}

func (s Server) validate() error {
	switch {
	case s.Host == "":
		return errors.New("host is empty")
	case s.Port < 1 || s.Port > 65535:
		return fmt.Errorf("port %d is out of range", s.Port)
	case !fingerprintPattern.MatchString(s.HostKeySHA256):
		return fmt.Errorf("host_key_sha256 %q is not an SSH SHA256 fingerprint", s.HostKeySHA256)
	}
	return nil
}

func (a Approval) validate() error {
	switch {
	case a.Approver.GitHubID <= 0 || a.Approver.Login == "":
		return errors.New("approver needs a github_id and a login")
	case a.At.IsZero():
		return errors.New("at is missing")
	case !commitPattern.MatchString(a.Commit):
		return fmt.Errorf("commit %q is not a full lowercase hex commit SHA", a.Commit)
	case a.PolicyHash == "":
		return errors.New("policy_hash is empty")
	}
	return nil
}

func (e Emergency) validate(reason string) error {
	if !e.Declared {
		if e.ReviewState != "" || !e.ReviewDueAt.IsZero() {
			return errors.New("a review without an emergency")
		}
		return nil
	}
	switch {
	case reason == "":
		return errors.New("an emergency change needs a reason")
	case e.ReviewState != ReviewPending && e.ReviewState != ReviewAcceptable && e.ReviewState != ReviewNotAcceptable:
		return fmt.Errorf("review_state %q is not pending, acceptable or not_acceptable", e.ReviewState)
	case e.ReviewDueAt.IsZero():
		return errors.New("review_due_at is missing")
	}
	return nil
}

func (p Predicate) validateTimes() error {
	switch p.Result {
	case ResultSucceeded, ResultRolledBack:
		if p.SwitchedAt.IsZero() {
			return fmt.Errorf("switched_at is missing for a %s deploy", p.Result)
		}
	case ResultFailed:
	default:
		return fmt.Errorf("result %q is not succeeded, failed or rolled_back", p.Result)
	}
	if p.StartedAt.IsZero() || p.FinishedAt.IsZero() {
		return errors.New("started_at and finished_at are required")
	}
	last, lastName := p.StartedAt, "started_at"
	for _, t := range []struct {
		name string
		at   time.Time
	}{{"switched_at", p.SwitchedAt}, {"finished_at", p.FinishedAt}} {
		if t.at.IsZero() {
			continue
		}
		if t.at.Before(last) {
			return fmt.Errorf("%s %s is before %s %s", t.name, t.at.Format(time.RFC3339Nano), lastName, last.Format(time.RFC3339Nano))
		}
		last, lastName = t.at, t.name
	}
	return nil
}

func (a Audit) validate() error {
	if a.Checkpoint == "" {
		return errors.New("audit.checkpoint is empty")
	}
	if len(a.Entries) == 0 {
		return errors.New("audit.entries is empty: the deploy's audit entries must be proven")
	}
	for i, e := range a.Entries {
		if i > 0 && e.Seq <= a.Entries[i-1].Seq {
			return fmt.Errorf("audit.entries[%d]: seq %d does not follow seq %d", i, e.Seq, a.Entries[i-1].Seq)
		}
		if e.Seq < 0 || e.At == "" || e.Action == "" {
			return fmt.Errorf("audit.entries[%d]: needs seq, at and action", i)
		}
	}
	return nil
}
