package bot

import (
	"strings"
	"time"
)

// Identity is a person as Tollgate trusts them: a GitHub account, and the
// Slack user linked to it when the action came from Slack. GitHubID is
// what counts; Login is for display and for team lookups.
type Identity struct {
	Login    string
	GitHubID int64
	ChatUser string // the chat account acted from, when linked (ChatIdentity.String(): "T123/U456")
}

// Same reports whether a and b are the same person. It fails closed for
// separation of duties: equal numeric ids or equal logins (case-insensitive)
// are the same person.
func (a Identity) Same(b Identity) bool {
	if a.GitHubID != 0 && a.GitHubID == b.GitHubID {
		return true
	}
	return a.Login != "" && strings.EqualFold(a.Login, b.Login)
}

// String returns the login, for messages.
func (a Identity) String() string { return a.Login }

// Trigger is how a request came in.
type Trigger string

// Triggers (DESIGN.md).
const (
	TriggerMerge            Trigger = "merge"
	TriggerLabel            Trigger = "label"
	TriggerSlack            Trigger = "slack"
	TriggerComment          Trigger = "comment"
	TriggerGitHubDeployment Trigger = "github_deployment"
	TriggerProtectionRule   Trigger = "protection_rule"
	TriggerEmergency        Trigger = "emergency"
	TriggerRollback         Trigger = "rollback"
)

// AskedByAPerson reports whether a person asked directly (a comment, a
// slash command, an emergency change, a rollback), rather than an event
// that happened anyway (a merge, a label, a deployment, an Actions run).
// Such an ask from someone without the role leaves an audit line, not a
// refused request.
func (t Trigger) AskedByAPerson() bool {
	switch t {
	case TriggerComment, TriggerSlack, TriggerEmergency, TriggerRollback:
		return true
	}
	return false
}

// Valid reports whether t is a known trigger.
func (t Trigger) Valid() bool {
	switch t {
	case TriggerMerge, TriggerLabel, TriggerSlack, TriggerComment, TriggerGitHubDeployment,
		TriggerProtectionRule, TriggerEmergency, TriggerRollback:
		return true
	}
	return false
}

// ReviewState is the state of one pull request review, as GitHub names it.
type ReviewState string

// Review states that matter to policy.
const (
	ReviewApproved         ReviewState = "APPROVED"
	ReviewChangesRequested ReviewState = "CHANGES_REQUESTED"
	ReviewCommented        ReviewState = "COMMENTED"
	ReviewDismissed        ReviewState = "DISMISSED"
)

// Review is one review on a pull request.
type Review struct {
	User        Identity
	State       ReviewState
	CommitID    string // the head SHA the review was submitted on
	SubmittedAt time.Time
	Dismissed   bool
	// Permission is the reviewer's permission on the repository as GitHub
	// reports it now (admin, write, read, none), looked up for approving
	// reviews; "" when not looked up. Only admin and write count, as for
	// GitHub's own required reviews.
	Permission string `json:",omitempty"`
}

// WriteAccess reports whether the reviewer may push to the repository,
// the condition for their approval to count.
func (r Review) WriteAccess() bool { return r.Permission == "admin" || r.Permission == "write" }

// PullRequest is the change a SHA came through, with its reviews.
type PullRequest struct {
	Number    int
	Author    Identity
	Title     string
	Body      string
	HeadRef   string // branch name
	BaseRef   string
	HeadSHA   string // final head SHA
	MergedSHA string // merge commit; empty when not merged
	Merged    bool
	MergedBy  Identity
	Reviews   []Review
	// Trees maps commit SHAs to their tree SHAs, for the commit asked
	// about, the head, the merge commit and each approved commit: a commit
	// with the same tree as a reviewed one holds the reviewed content.
	Trees map[string]string `json:",omitempty"`
}

// ProtectionRuleRun identifies a GitHub Actions run waiting on Tollgate's
// custom deployment protection rule; the decision goes to its callback.
type ProtectionRuleRun struct {
	RunID           int64
	EnvironmentName string
	CallbackURL     string
	// Event is what started the workflow run (push, workflow_dispatch,
	// pull_request_target, ...), as GitHub reports it.
	Event string
}

// Approval is one person's approval of one request at one SHA under one
// configuration. It is void once ExpiresAt passes.
type Approval struct {
	Approver   Identity
	At         time.Time
	SHA        string
	ConfigHash string
	ExpiresAt  time.Time
	RevokedAt  time.Time // set when the approver lost access before the deploy started
}

// Request is one ask to put a SHA on an environment, from creation to its
// final state. It is the unit the audit log, the evidence and the queue
// talk about.
type Request struct {
	ID          string
	SourceKey   string // idempotency key: delivery id, Slack trigger id, deployment id
	Repo        string // "owner/name"
	Environment string
	Ref         string
	SHA         string
	Trigger     Trigger
	Requester   Identity
	PR          *PullRequest
	Reason      string
	Ticket      string
	State       State
	StateReason string // why the last transition happened, for people
	ConfigHash  string // hash of the environment policy the request was decided under

	RequiredApprovals int
	Approvals         []Approval
	ApprovalNonce     string // server-side secret carried by approval buttons
	ApprovalDeadline  time.Time

	GitHubDeploymentID int64
	ProtectionRule     *ProtectionRuleRun
	Release            string            // rollback target release; empty means the previous one
	ExternalRefs       map[string]string // integration bookkeeping: Slack ts, PR comment id

	Decision *Decision // the policy decision at submission
	Result   *DeployOutcome

	CreatedAt  time.Time
	UpdatedAt  time.Time
	QueuedAt   time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	Version    int64 // incremented by the store on each write; the CAS guard
}

// ValidApprovals returns the approvals still valid at now for the request's
// SHA and configuration, counted once per person.
func (r *Request) ValidApprovals(now time.Time) []Approval {
	var out []Approval
	for _, a := range r.Approvals {
		if a.SHA != r.SHA || a.ConfigHash != r.ConfigHash || !now.Before(a.ExpiresAt) || !a.RevokedAt.IsZero() {
			continue
		}
		dup := false
		for _, b := range out {
			if b.Approver.Same(a.Approver) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out
}

// RequestFilter selects requests for status and history queries. Empty
// fields match everything.
type RequestFilter struct {
	Repo        string
	Environment string
	States      []State
	Trigger     Trigger // "" for any
	Requester   int64   // GitHub id
	Limit       int     // 0 means a store default
	// ByFinish orders by when the request finished, newest first, instead
	// of by creation: for succeeded requests, the order their releases
	// went live (a request approved late goes live after one created later).
	ByFinish bool
}
