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
	NotifyIdentityLinked  NotificationKind = "identity_linked"  // a chat account was linked to a GitHub account (Link)
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
	Link            *Link            // identity_linked: both accounts and how each was proved
	Drift           *DriftCheck      // drift_detected

	// Durable is set on a notification the Store wrote to its outbox in
	// the transaction of the transition that implies it (Notes). The
	// server's outbox worker delivers those to the external notifiers
	// (Slack, GitHub), in order per request and with retries, so a crash
	// between the transition and the API call loses nothing; the same
	// notification also reaches Service's direct Notifier (logs, metrics),
	// where the external notifiers skip it.
	Durable bool `json:"-"`
}

// Notes builds the notifications a request transition implies from the
// request as written (its new version included). A Store that keeps an
// outbox writes them in the transition's own transaction.
type Notes func(r Request) []Notification

// outboxed is the notifications of one transition: built by the Store
// inside the transaction (Notes), handed to the direct Notifier after the
// commit (deliver).
type outboxed struct {
	build   func(Request) []Notification
	called  bool
	written []Notification
}

// Notes implements the Notes the Store calls.
func (o *outboxed) Notes(r Request) []Notification {
	o.called, o.written = true, o.build(r)
	for i := range o.written {
		o.written[i].Durable = true
	}
	return o.written
}

// deliver hands a committed transition's notifications to the direct
// Notifier: those the Store wrote to its outbox, or, with a Store that
// keeps none, the ones built from r now.
func (s *Service) deliver(ctx context.Context, o *outboxed, r Request) {
	ns := o.written
	if !o.called {
		ns = o.build(r)
	}
	for _, n := range ns {
		s.notify(ctx, n)
	}
}

// one is a Notes builder of one notification of kind k about the request.
func one(k NotificationKind, actor Identity) func(Request) []Notification {
	return func(r Request) []Notification { return []Notification{{Kind: k, Request: r, Actor: actor}} }
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
