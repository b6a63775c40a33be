package bot

import (
	"context"
	"log/slog"
)

// NotificationKind says what happened; integrations render each kind.
type NotificationKind string

// Notification kinds.
const (
	NotifyApprovalNeeded  NotificationKind = "approval_needed"  // a request awaits approvals
	NotifyApprovalGranted NotificationKind = "approval_granted" // one approval counted
	NotifyRefused         NotificationKind = "refused"          // policy denied a request
	NotifyStateChanged    NotificationKind = "state_changed"    // queued, running, canceled, expired, rejected
	NotifyFinished        NotificationKind = "finished"         // succeeded, failed, rolled_back, interrupted
	NotifyEmergencyReview NotificationKind = "emergency_review" // an emergency change needs its after-the-fact review
)

// Notification tells the integrations about a change they should show.
// Request is the request after the change.
type Notification struct {
	Kind     NotificationKind
	Request  Request
	Actor    Identity  // who caused it, when a person did
	Approval *Approval // for approval_granted

	// Compliance notifications (issue 6) carry their subject and say who
	// should hear about it; Teams lists whom to message directly when the
	// audience is approvers or access reviewers.
	Audience        Audience
	Teams           []Team
	EmergencyReview *EmergencyReview // emergency_review, emergency_review_*, emergency_reviewed
	Lock            *Lock            // lock_reminder
	AccessReview    *AccessReview    // access_review_*
}

// Notifier shows notifications to people (Slack messages, PR comments,
// deployment statuses). A failure is logged by the caller and never undoes
// the state change it reports.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// Notifiers fans a notification out to several notifiers, each in turn;
// one failing does not stop the others.
type Notifiers []Notifier

// Notify sends n to every notifier and returns the first error.
func (ns Notifiers) Notify(ctx context.Context, n Notification) error {
	var first error
	for _, x := range ns {
		if err := x.Notify(ctx, n); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// notify sends n and logs a failure; the state change already happened.
func (s *Service) notify(ctx context.Context, n Notification) {
	if s.notifier == nil {
		return
	}
	if err := s.notifier.Notify(ctx, n); err != nil {
		s.log.ErrorContext(ctx, "notification failed", slog.String("kind", string(n.Kind)),
			slog.String("request", n.Request.ID), slog.String("state", string(n.Request.State)),
			slog.Any("err", err))
	}
}
