// Package attest writes and checks deployment attestations: an in-toto v1
// Statement about one release going live (who asked, who approved it, under
// which policy, where it went, how it ended, and where its audit entries sit
// in the signed audit log), in a DSSE envelope signed with ed25519. The
// predicate is documented field by field in docs/attestation.md.
//
// Verification works offline with public keys only, over the exact signed
// bytes (DSSE's pre-authentication encoding), never over re-encoded JSON.
package attest

import (
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// PredicateType is the in-toto predicate type of a deployment attestation.
const PredicateType = "https://github.com/tollgate-dev/tollgate/attestation/deployment/v1"

// Results of a deploy, as bot.DeployResult names them.
const (
	ResultSucceeded  = "succeeded"
	ResultFailed     = "failed"
	ResultRolledBack = "rolled_back"
)

// Outcomes of one policy check, as bot.CheckOutcome names them.
const (
	OutcomePass    = "pass"
	OutcomeFail    = "fail"
	OutcomeSkipped = "skipped"
)

// Review states of an emergency change's after-the-fact review.
const (
	ReviewPending       = "pending"
	ReviewAcceptable    = "acceptable"
	ReviewNotAcceptable = "not_acceptable"
)

// Predicate is what Tollgate attests about one deploy. Every field is
// filled from the request (bot.Request) and the deploy's outcome; times
// are UTC (Sign converts them).
type Predicate struct {
	Repository  string `json:"repository"`    // "owner/name"
	Environment string `json:"environment"`   // as configured
	Commit      string `json:"commit"`        // full commit SHA deployed
	Ref         string `json:"ref,omitempty"` // what was asked for (branch, tag, SHA)
	Release     string `json:"release"`       // release directory name on the servers
	RequestID   string `json:"request_id"`    // the request; its audit entries' subject
	Trigger     string `json:"trigger"`       // how the request came in (bot.Trigger)

	Servers   []Server `json:"servers"`
	Requester Person   `json:"requester"`

	RequiredApprovals int        `json:"required_approvals"` // the environment policy's number
	Approvals         []Approval `json:"approvals"`          // every approval counted, in order
	Policy            Policy     `json:"policy"`

	Reason    string    `json:"reason,omitempty"` // why, as the requester gave it
	Ticket    string    `json:"ticket,omitempty"` // change or incident ticket
	Emergency Emergency `json:"emergency"`

	StartedAt  time.Time `json:"started_at"`
	SwitchedAt time.Time `json:"switched_at,omitzero"` // when current pointed at the release; zero if it never did
	FinishedAt time.Time `json:"finished_at"`
	Result     string    `json:"result"` // ResultSucceeded, ResultFailed or ResultRolledBack

	Audit Audit `json:"audit"`
}

// Server is one server the release was deployed to.
type Server struct {
	Host string `json:"host"`
	Port int    `json:"port"`
	// HostKeySHA256 is the fingerprint of the host key the server
	// presented and known_hosts accepted, as ssh-keygen -l prints it
	// ("SHA256:" and unpadded base64; ssh.FingerprintSHA256).
	HostKeySHA256 string `json:"host_key_sha256"`
}

// Person is a GitHub account: the numeric id is what counts, the login is
// for people.
type Person struct {
	GitHubID int64  `json:"github_id"`
	Login    string `json:"login"`
}

// Approval is one person's approval of the request.
type Approval struct {
	Approver   Person    `json:"approver"`
	At         time.Time `json:"at"`
	Commit     string    `json:"commit"`      // the SHA approved
	PolicyHash string    `json:"policy_hash"` // the policy (config hash) approved under
}

// Policy is the environment policy the request was decided under, with
// every check the decision made.
type Policy struct {
	Hash      string    `json:"hash"`       // bot.Request.ConfigHash
	DecidedAt time.Time `json:"decided_at"` // bot.Decision.At
	Checks    []Check   `json:"checks"`
}

// Check is one policy check and its outcome (bot.PolicyCheck).
type Check struct {
	Name     string `json:"name"`
	Outcome  string `json:"outcome"` // OutcomePass, OutcomeFail or OutcomeSkipped
	LookedUp string `json:"looked_up,omitempty"`
	Detail   string `json:"detail,omitempty"`
}

// Emergency says whether the deploy was an emergency change, which skips
// approvals and must be reviewed after the fact.
type Emergency struct {
	Declared bool `json:"declared"`
	// ReviewState is the after-the-fact review's state when the
	// attestation was signed (ReviewPending, usually); empty when not
	// declared.
	ReviewState string    `json:"review_state,omitempty"`
	ReviewDueAt time.Time `json:"review_due_at,omitzero"`
}

// Audit locates the deploy's entries in the audit log: each entry with its
// inclusion proof against one signed checkpoint, written after the deploy
// finished.
type Audit struct {
	Checkpoint string       `json:"checkpoint"` // the signed note, verbatim
	Entries    []AuditEntry `json:"entries"`    // by seq, ascending
}

// AuditEntry is one audit entry, exactly as stored and hashed, with the
// proof that it is a leaf of the checkpoint's tree.
type AuditEntry struct {
	Seq     int64       `json:"seq"`
	At      string      `json:"at"` // the stored RFC 3339 text
	Actor   string      `json:"actor"`
	Action  string      `json:"action"`
	Subject string      `json:"subject"`
	Data    string      `json:"data"`  // the stored canonical JSON, as a string
	Proof   []tlog.Hash `json:"proof"` // tlog.RecordProof
}

// utc returns p with every time in UTC, so the signed form does not depend
// on the signer's time zone.
func (p Predicate) utc() Predicate {
	p.StartedAt, p.SwitchedAt, p.FinishedAt = utcTime(p.StartedAt), utcTime(p.SwitchedAt), utcTime(p.FinishedAt)
	p.Policy.DecidedAt = utcTime(p.Policy.DecidedAt)
	p.Emergency.ReviewDueAt = utcTime(p.Emergency.ReviewDueAt)
	p.Approvals = append([]Approval(nil), p.Approvals...)
	for i := range p.Approvals {
		p.Approvals[i].At = utcTime(p.Approvals[i].At)
	}
	return p
}

func utcTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
