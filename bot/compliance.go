package bot

import (
	"context"
	"time"
)

// Audit actions of the compliance controls (issue 6). Evidence reads them:
// emergency_changes.csv from the emergency.* actions, access_reviews.csv
// and access_changes.csv from access_review.* and access.reconciled.
const (
	// ActionEmergencyReviewOpened: an emergency change succeeded and its
	// after-the-fact review is open. Data: repo, environment, sha, deployer,
	// reason, ticket, deployed_at, due_at.
	ActionEmergencyReviewOpened = "emergency.review_opened"
	// ActionEmergencyReviewed: an approver reviewed it. Data: outcome
	// (acceptable|not_acceptable), reviewer, reviewer_id, note, deployed_at,
	// reviewed_at, latency_seconds, due_at, late.
	ActionEmergencyReviewed = "emergency.reviewed"
	// ActionEmergencyReviewReminded: a reminder went out. Data: audience
	// (channel|approvers), reminder (1, 2, ...), due_at, overdue.
	ActionEmergencyReviewReminded = "emergency.review_reminded"
	// ActionEmergencyReviewOverdue: review_within passed without a review.
	// Data: due_at, deployed_at.
	ActionEmergencyReviewOverdue = "emergency.review_overdue"
	// ActionAccessReviewSnapshot: who can deploy, approve and use the
	// emergency path was recorded. Data: review id, digest, grants count,
	// added, removed, previous.
	ActionAccessReviewSnapshot = "access_review.snapshot"
	// ActionAccessReviewSignedOff: an access reviewer signed a snapshot
	// off. Data: review id, outcome (no_changes|changes_needed), note,
	// reviewer, taken_at, signed_off_at.
	ActionAccessReviewSignedOff = "access_review.signed_off"
	// ActionAccessReviewReminded: the last signed review is older than the
	// interval (counted from the last signed review's snapshot).
	// Data: last_review, last_taken_at, last_signed_at, interval_days.
	ActionAccessReviewReminded = "access_review.reminded"
	// ActionAccessReconciled: the daily reconciliation found someone who
	// left the organisation still linked or pending, and revoked them.
	// Data: login, github_id, departed_at (only when known), last_seen_member_at
	// (when known), revoked_at, latency_seconds (revoked_at minus departed_at,
	// else minus last_seen_member_at: an upper bound), latency_basis.
	ActionAccessReconciled = "access.reconciled"
	// ActionLockReminded: a lock's owner was reminded it is still held.
	// Data: repo, environment, owner, held_since, held_seconds, reminder.
	ActionLockReminded = "lock.reminded"
	// ActionAnchorPublished: a signed checkpoint was committed to the
	// anchor repository. Data: size, root, path, commit, repository.
	ActionAnchorPublished = "anchor.published"
)

// Refusal codes of the compliance controls.
const (
	CodeSelfReview        RefusalCode = "self_review"
	CodeAuthorReview      RefusalCode = "author_review"
	CodeAlreadyReviewed   RefusalCode = "already_reviewed"
	CodeNotAccessReviewer RefusalCode = "not_access_reviewer"
	CodeNoteMissing       RefusalCode = "note_missing"
)

// Notification kinds of the compliance controls.
const (
	// NotifyEmergencyReviewReminder: Notification.EmergencyReview still
	// needs a review; Audience says who to tell, Teams whom to message
	// when the audience is approvers.
	NotifyEmergencyReviewReminder NotificationKind = "emergency_review_reminder"
	// NotifyEmergencyReviewOverdue: review_within passed without a review.
	NotifyEmergencyReviewOverdue NotificationKind = "emergency_review_overdue"
	// NotifyEmergencyReviewed: the review was recorded (update the message,
	// remove the buttons).
	NotifyEmergencyReviewed NotificationKind = "emergency_reviewed"
	// NotifyLockReminder: Notification.Lock is still held; tell its owner.
	NotifyLockReminder NotificationKind = "lock_reminder"
	// NotifyAccessReviewRecorded: a snapshot awaits sign-off
	// (Notification.AccessReview); show the sign-off buttons to Teams.
	NotifyAccessReviewRecorded NotificationKind = "access_review_recorded"
	// NotifyAccessReviewSignedOff: a snapshot was signed off.
	NotifyAccessReviewSignedOff NotificationKind = "access_review_signed_off"
	// NotifyAccessReviewDue: the last signed access review is older than
	// the interval (AccessReview is the last signed one, nil when none).
	NotifyAccessReviewDue NotificationKind = "access_review_due"
)

// Audience says who a reminder is for.
type Audience string

// Audiences.
const (
	AudienceChannel         Audience = "channel"          // the environment's deploy channel
	AudienceApprovers       Audience = "approvers"        // members of Notification.Teams, directly
	AudienceOwner           Audience = "owner"            // the lock's owner, directly
	AudienceAccessReviewers Audience = "access_reviewers" // members of Notification.Teams, directly
)

// ComplianceStore keeps what the compliance controls record: emergency
// reviews, access reviews, reminders. Every write appends its audit events
// in the same transaction (fail closed). The store package implements it
// on the same database as Store.
type ComplianceStore interface {
	EmergencyReviewStore
	AccessReviewStore
	ReminderStore
}

// ReminderStore remembers when something was last reminded about, so a
// periodic sweep reminds on a schedule instead of on every tick.
type ReminderStore interface {
	// Reminded returns when key was last reminded and how often; zero
	// and 0 when never.
	Reminded(ctx context.Context, key string) (last time.Time, count int, err error)
	// RecordReminder stores that key was reminded at at, count reminders
	// in all, and appends ev; the reminder is sent after. When count or
	// more are recorded already (another process reminded first) it writes
	// nothing and returns an error wrapping ErrConflict: the sent-marker
	// is in the database, so no reminder goes out twice.
	RecordReminder(ctx context.Context, key string, at time.Time, count int, ev AuditEvent) error
	// ListLocks returns every lock, expired ones included.
	ListLocks(ctx context.Context) ([]Lock, error)
}
