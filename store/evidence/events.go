package evidence

import (
	"encoding/json"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// Audit actions evidence reads beyond bot's core ones. They mirror the
// constants of the compliance controls (issue 6: emergency reviews, access
// reviews, reconciliation); an entry of an action evidence does not know
// still goes to audit.jsonl, it just fills no CSV column.
const (
	actionEmergencyReviewOpened = "emergency.review_opened"
	actionEmergencyReviewed     = "emergency.reviewed"
	actionEmergencyReminded     = "emergency.review_reminded"
	actionEmergencyOverdue      = "emergency.review_overdue"
	actionAccessReviewSnapshot  = "access_review.snapshot"
	actionAccessReviewSignedOff = "access_review.signed_off"
	actionAccessReconciled      = "access.reconciled"
	actionAccessGranted         = "access.granted"
	actionLockReminded          = "lock.reminded"
)

// createdData is the data of request.created.
type createdData struct {
	Repo        string `json:"repo"`
	Environment string `json:"environment"`
	Ref         string `json:"ref"`
	SHA         string `json:"sha"`
	Trigger     string `json:"trigger"`
	Requester   string `json:"requester"`
	RequesterID int64  `json:"requester_id"`
	Reason      string `json:"reason"`
	Ticket      string `json:"ticket"`
	PR          int    `json:"pr"`
	PRAuthor    string `json:"pr_author"`
	Release     string `json:"release"`
}

// approvalData is the data of approval.granted, approval.refused and approval.revoked.
type approvalData struct {
	Approver   string    `json:"approver"`
	ApproverID int64     `json:"approver_id"`
	SHA        string    `json:"sha"`
	ExpiresAt  time.Time `json:"expires_at"`
	Count      int       `json:"count"`
	Required   int       `json:"required"`
	Teams      []string  `json:"teams"`
	Code       string    `json:"code"`
	Reason     string    `json:"reason"`
	Source     string    `json:"source"`
	SlackUser  string    `json:"slack_user"`
}

// finishedData is the data of deploy.finished and deploy.interrupted.
type finishedData struct {
	Result         string           `json:"result"`
	Release        string           `json:"release"`
	ManifestDigest string           `json:"manifest_digest"`
	FilesSent      int              `json:"files_sent"`
	BytesSent      int64            `json:"bytes_sent"`
	Servers        []string         `json:"servers"`
	DurationMS     int64            `json:"duration_ms"`
	Steps          []bot.DeployStep `json:"steps"`
	Error          string           `json:"error"`
}

// stateData is the data of request.state.
type stateData struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Reason string `json:"reason"`
}

// refusedData is the data of action.refused.
type refusedData struct {
	Action    string `json:"action"`
	Code      string `json:"code"`
	Reason    string `json:"reason"`
	GitHubID  int64  `json:"github_id"`
	SlackUser string `json:"slack_user"`
}

// lockData is the data of lock.acquired, lock.released and lock.reminded.
type lockData struct {
	Repo        string    `json:"repo"`
	Environment string    `json:"environment"`
	Owner       string    `json:"owner"`
	Reason      string    `json:"reason"`
	CreatedAt   time.Time `json:"created_at"`
	ExpiresAt   time.Time `json:"expires_at"`
	How         string    `json:"how"`
	By          string    `json:"by"`
	HeldSeconds int64     `json:"held_seconds"`
}

// reviewData is the data of the emergency.* actions.
type reviewData struct {
	Outcome        string    `json:"outcome"`
	Reviewer       string    `json:"reviewer"`
	Note           string    `json:"note"`
	DeployedAt     time.Time `json:"deployed_at"`
	ReviewedAt     time.Time `json:"reviewed_at"`
	DueAt          time.Time `json:"due_at"`
	LatencySeconds int64     `json:"latency_seconds"`
	Late           bool      `json:"late"`
}

// accessData is the data of access.*, identity.* and access_review.* actions.
type accessData struct {
	Login              string    `json:"login"`
	GitHubLogin        string    `json:"github_login"`
	GitHubID           int64     `json:"github_id"`
	Source             string    `json:"source"`
	Reason             string    `json:"reason"`
	CanceledRequests   []string  `json:"canceled_requests"`
	RevokedApprovalsOn []string  `json:"revoked_approvals_on"`
	SlackLinksRemoved  int       `json:"slack_links_removed"`
	DepartedAt         time.Time `json:"departed_at"`
	RevokedAt          time.Time `json:"revoked_at"`
	LatencySeconds     *int64    `json:"latency_seconds"`
	LatencyBasis       string    `json:"latency_basis"`
	Team               string    `json:"team"`
	// access_review.*
	Review      string          `json:"review"`
	ReviewID    string          `json:"review_id"`
	ID          string          `json:"id"`
	Digest      string          `json:"digest"`
	Grants      json.RawMessage `json:"grants"`
	Added       json.RawMessage `json:"added"`
	Removed     json.RawMessage `json:"removed"`
	Outcome     string          `json:"outcome"`
	Note        string          `json:"note"`
	Reviewer    string          `json:"reviewer"`
	TakenAt     time.Time       `json:"taken_at"`
	SignedOffAt time.Time       `json:"signed_off_at"`
}

// decode unmarshals an entry's data into v; malformed data leaves v zero
// (the entry's hash still proves what it said, and verify reports tampering).
func decode[T any](e entry) T {
	var v T
	_ = json.Unmarshal(e.Data, &v)
	return v
}
