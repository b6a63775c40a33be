package bot

import (
	"context"
	"time"
)

// Directory answers who belongs to which team, live (the implementation
// may cache briefly and must drop its cache on membership webhooks).
type Directory interface {
	// IsTeamMember reports whether who is an active member of org/team.
	// who.GitHubID, when set, is what counts: the account holding that id
	// is looked up under its current login, since a login captured
	// earlier (at link time, in a request) may since have been renamed
	// away and taken by someone else. Only without an id is who.Login used.
	IsTeamMember(ctx context.Context, org, team string, who Identity) (bool, error)
}

// Changes answers questions about code on the forge.
type Changes interface {
	// ResolveRef turns a branch, tag or SHA into a full commit SHA; it
	// returns an error wrapping ErrNotFound when the ref does not exist.
	ResolveRef(ctx context.Context, repo, ref string) (string, error)
	// BranchContains reports whether sha is the head of branch or merged
	// into it. branch may be a path.Match pattern ("release/*"): then any
	// matching branch containing sha counts.
	BranchContains(ctx context.Context, repo, branch, sha string) (bool, error)
	// PullRequestForCommit returns the pull request sha came through
	// (preferring a merged one), with its reviews, or nil when there is none.
	PullRequestForCommit(ctx context.Context, repo, sha string) (*PullRequest, error)
	// Checks returns the combined status contexts and check runs on sha.
	Checks(ctx context.Context, repo, sha string) ([]CheckResult, error)
}

// DeployJob is what the Deployer is asked to do. For the protection_rule
// trigger the wiring routes the job to GitHub (approve the waiting run)
// instead of SSH: Actions deploys, Tollgate gates.
type DeployJob struct {
	RequestID      string
	Repo           string
	Environment    string
	Ref            string
	SHA            string
	Trigger        Trigger
	Release        string // for rollbacks: the release to return to; empty means the previous one
	ProtectionRule *ProtectionRuleRun
	Requester      Identity
}

// DeployResult is how a deploy ended.
type DeployResult string

// Deploy results.
const (
	ResultSucceeded  DeployResult = "succeeded"
	ResultFailed     DeployResult = "failed"      // failed, and nothing was switched back
	ResultRolledBack DeployResult = "rolled_back" // failed, and the previous release was restored
)

// DeployOutcome is what a deploy did, for the audit log and evidence.
type DeployOutcome struct {
	Result         DeployResult  `json:"result"`
	Release        string        `json:"release,omitempty"`
	ManifestDigest string        `json:"manifest_digest,omitempty"`
	FilesSent      int           `json:"files_sent"`
	BytesSent      int64         `json:"bytes_sent"`
	Servers        []string      `json:"servers,omitempty"`
	Duration       time.Duration `json:"duration_ns"`
	Steps          []DeployStep  `json:"steps,omitempty"`
	Error          string        `json:"error,omitempty"` // redacted by the Deployer

	// What a deployment attestation states about the deploy (bot stays
	// free of SSH: the Deployer fills these in).
	SHA        string         `json:"sha,omitempty"`        // the commit the release holds (a rollback's may differ from the request's)
	Targets    []DeployTarget `json:"targets,omitempty"`    // each server, as connected to
	StartedAt  time.Time      `json:"started_at,omitzero"`  // when the Deployer began
	SwitchedAt time.Time      `json:"switched_at,omitzero"` // when current pointed at the release on every server switched; zero if none was
	FinishedAt time.Time      `json:"finished_at,omitzero"` // when the Deployer ended
}

// DeployTarget is one server a deploy went to, as the Deployer connected
// to it.
type DeployTarget struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	// HostKeySHA256 is the fingerprint ("SHA256:...") of the host key the
	// server presented and the deployer accepted; "" when none was.
	HostKeySHA256 string    `json:"host_key_sha256,omitempty"`
	SwitchedAt    time.Time `json:"switched_at,omitzero"`
}

// DeployStep is one timed step on one server.
type DeployStep struct {
	Server   string        `json:"server"`
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration_ns"`
	OK       bool          `json:"ok"`
}

// Deployer carries out deploys and rollbacks. A returned error means the
// deploy could not be carried out at all (reported as failed); a deploy
// that ran and failed returns an outcome with ResultFailed or ResultRolledBack.
type Deployer interface {
	Deploy(ctx context.Context, job DeployJob) (DeployOutcome, error)
	Rollback(ctx context.Context, job DeployJob) (DeployOutcome, error)
}

// Clock tells the time; tests inject a fixed or stepped one.
type Clock func() time.Time

// AuditEvent is one entry to append to the audit log with a transition.
type AuditEvent struct {
	Actor   string
	Action  string
	Subject string
	Data    any
}

// Audit actions written by the domain.
const (
	ActionRequestCreated    = "request.created"
	ActionRequestDuplicate  = "request.duplicate"
	ActionPolicyDecided     = "policy.decided"
	ActionRequestState      = "request.state"
	ActionApprovalGranted   = "approval.granted"
	ActionApprovalRefused   = "approval.refused"
	ActionApprovalRevoked   = "approval.revoked"
	ActionRequestRejected   = "request.rejected"
	ActionRequestCanceled   = "request.canceled"
	ActionRequestExpired    = "request.expired"
	ActionDeployStarted     = "deploy.started"
	ActionDeployFinished    = "deploy.finished"
	ActionDeployRolledBack  = "deploy.rolled_back"
	ActionDeployInterrupted = "deploy.interrupted"
	ActionAccessRevoked     = "access.revoked"
	ActionActionRefused     = "action.refused"
	ActionLockAcquired      = "lock.acquired"
	ActionLockReleased      = "lock.released"
	ActionIdentityLinked    = "identity.linked"
	ActionIdentityUnlinked  = "identity.unlinked"
)
