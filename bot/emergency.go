package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// DefaultEmergencyReviewWithin is the after-the-fact review deadline when
// the environment does not set emergency.review_within.
const DefaultEmergencyReviewWithin = 24 * time.Hour

// ReviewOutcome is an approver's verdict on an emergency change.
type ReviewOutcome string

// Review outcomes.
const (
	ReviewAcceptable    ReviewOutcome = "acceptable"
	ReviewNotAcceptable ReviewOutcome = "not_acceptable"
)

// Valid reports whether o is a verdict.
func (o ReviewOutcome) Valid() bool { return o == ReviewAcceptable || o == ReviewNotAcceptable }

// EmergencyReview is the after-the-fact review of one emergency change,
// opened when the change started deploying (needsEmergencyReview).
type EmergencyReview struct {
	RequestID   string
	Repo        string
	Environment string
	SHA         string
	Deployer    Identity
	Reason      string
	Ticket      string
	DeployedAt  time.Time // when the deploy finished
	OpenedAt    time.Time
	DueAt       time.Time // DeployedAt + review_within
	Approvers   []Team    // who may review it

	Reminders      int       // reminders sent so far
	LastRemindedAt time.Time //
	OverdueAt      time.Time // when it was flagged overdue; zero when not (yet)

	Outcome    ReviewOutcome // empty while pending
	Reviewer   Identity
	ReviewedAt time.Time
	Note       string
}

// Pending reports whether nobody reviewed the change yet.
func (r *EmergencyReview) Pending() bool { return r.Outcome == "" }

// Overdue reports whether the review is (or was) late at now: pending past
// its due time, or reviewed after it.
func (r *EmergencyReview) Overdue(now time.Time) bool {
	if r.Pending() {
		return !now.Before(r.DueAt)
	}
	return r.ReviewedAt.After(r.DueAt)
}

// EmergencyReviewStore keeps emergency reviews.
type EmergencyReviewStore interface {
	// OpenEmergencyReview stores r and appends ev unless a review of the
	// same request exists; created says whether it was new.
	OpenEmergencyReview(ctx context.Context, r EmergencyReview, ev AuditEvent) (created bool, err error)
	// EmergencyReview returns the review of request id, or an error
	// wrapping ErrNotFound.
	EmergencyReview(ctx context.Context, requestID string) (EmergencyReview, error)
	// ListEmergencyReviews returns reviews, oldest deploy first; pending
	// only when pendingOnly.
	ListEmergencyReviews(ctx context.Context, pendingOnly bool) ([]EmergencyReview, error)
	// UpdateEmergencyReview reads the review of request id, lets change
	// modify it and writes it with the events change returns, in one
	// transaction. When change returns an error nothing is written.
	UpdateEmergencyReview(ctx context.Context, requestID string, change func(*EmergencyReview) ([]AuditEvent, error)) (EmergencyReview, error)
}

// reviewWithin returns the environment's review deadline.
func (p *EnvironmentPolicy) reviewWithin() time.Duration {
	if p.EmergencyReviewWithin <= 0 {
		return DefaultEmergencyReviewWithin
	}
	return p.EmergencyReviewWithin
}

// needsEmergencyReview reports whether r is an emergency change whose
// code may have gone live: it started deploying, however it ended. A
// deploy that failed after the switch, was rolled back after its health
// check, or was interrupted by a crash leaves (or left) its code live on
// some server, and Tollgate cannot always tell how far it got, so every
// emergency change that started is reviewed.
func needsEmergencyReview(r Request) bool {
	if r.Trigger != TriggerEmergency {
		return false
	}
	switch r.State {
	case StateSucceeded, StateFailed, StateRolledBack, StateInterrupted:
		return true
	}
	return false
}

// emergencyEndStates are the states needsEmergencyReview accepts.
var emergencyEndStates = []State{StateSucceeded, StateFailed, StateRolledBack, StateInterrupted}

// openEmergencyReview records the review of an emergency change that
// started deploying (needsEmergencyReview) and asks the approvers for it. A failure is logged: the sweep
// (SweepEmergencyReviews) opens what is missing.
func (s *Service) openEmergencyReview(ctx context.Context, r Request) {
	rev, created, err := s.ensureEmergencyReview(ctx, r)
	if err != nil {
		s.log.ErrorContext(ctx, "opening emergency review", "request", r.ID, "err", err)
		return
	}
	if created {
		s.notify(ctx, Notification{Kind: NotifyEmergencyReview, Request: r, EmergencyReview: &rev,
			Audience: AudienceApprovers, Teams: rev.Approvers})
	}
}

func (s *Service) ensureEmergencyReview(ctx context.Context, r Request) (EmergencyReview, bool, error) {
	if s.compliance == nil {
		return EmergencyReview{}, false, errNoCompliance
	}
	within := DefaultEmergencyReviewWithin
	var approvers []Team
	if p, ok := s.policies.Environment(r.Repo, r.Environment); ok {
		within, approvers = p.reviewWithin(), p.Approvers
	}
	deployed := r.FinishedAt
	if deployed.IsZero() {
		deployed = r.UpdatedAt
	}
	rev := EmergencyReview{
		RequestID: r.ID, Repo: r.Repo, Environment: r.Environment, SHA: r.SHA, Deployer: r.Requester,
		Reason: r.Reason, Ticket: r.Ticket, DeployedAt: deployed.UTC(), OpenedAt: s.now().UTC(),
		DueAt: deployed.UTC().Add(within), Approvers: approvers,
	}
	ev := AuditEvent{Actor: "tollgate", Action: ActionEmergencyReviewOpened, Subject: r.ID, Data: map[string]any{
		"repo": r.Repo, "environment": r.Environment, "sha": r.SHA, "deployer": r.Requester.Login,
		"deployer_id": r.Requester.GitHubID, "reason": r.Reason, "ticket": r.Ticket,
		"deployed_at": rev.DeployedAt, "due_at": rev.DueAt, "approvers": teamStrings(approvers), "result": r.State}}
	created, err := s.compliance.OpenEmergencyReview(ctx, rev, ev)
	if err != nil {
		return EmergencyReview{}, false, fmt.Errorf("opening the review of emergency change %s: %w", r.ID, err)
	}
	return rev, created, nil
}

// errNoCompliance reports a Service built without a ComplianceStore.
var errNoCompliance = errors.New("no compliance store configured: emergency changes cannot be reviewed")

// ReviewEmergency records an approver's after-the-fact review of emergency
// change id. Only members of the environment's approvers teams may review,
// never the person who deployed it nor the author of its pull request (the
// approvers' separation of duties); a not-acceptable verdict needs a note.
func (s *Service) ReviewEmergency(ctx context.Context, id string, by Identity, outcome ReviewOutcome, note string) (EmergencyReview, error) {
	return s.ReviewEmergencyWithMFA(ctx, id, by, outcome, note, nil)
}

// ReviewEmergencyWithMFA is ReviewEmergency with the reviewer's security
// key assertion over the verdict and note, which environments with
// emergency.require_webauthn require (EmergencyReviewChallenge).
func (s *Service) ReviewEmergencyWithMFA(ctx context.Context, id string, by Identity, outcome ReviewOutcome, note string, proof *MFAProof) (EmergencyReview, error) {
	if s.compliance == nil {
		return EmergencyReview{}, errNoCompliance
	}
	const what = "emergency.review"
	if !outcome.Valid() {
		return EmergencyReview{}, s.refuseAction(ctx, by, what, id, refuse(CodeBadCommand,
			"a review is %q or %q, not %q", ReviewAcceptable, ReviewNotAcceptable, outcome))
	}
	if outcome == ReviewNotAcceptable && strings.TrimSpace(note) == "" {
		return EmergencyReview{}, s.refuseAction(ctx, by, what, id, refuse(CodeNoteMissing,
			"say what was not acceptable about emergency change %s", id))
	}
	rev, err := s.compliance.EmergencyReview(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return EmergencyReview{}, s.refuseAction(ctx, by, what, id, refuse(CodeWrongState,
			"%s is not an emergency change awaiting review", id))
	}
	if err != nil {
		return EmergencyReview{}, fmt.Errorf("reviewing emergency change %s: %w", id, err)
	}
	if ref, err := s.reviewerSeparation(ctx, rev, by); err != nil || ref != nil {
		if err != nil {
			return EmergencyReview{}, fmt.Errorf("reviewing emergency change %s: %w", id, err)
		}
		return EmergencyReview{}, s.refuseAction(ctx, by, what, id, ref)
	}
	teams := rev.Approvers
	p, configured := s.policies.Environment(rev.Repo, rev.Environment)
	if configured {
		teams = p.Approvers // the policy in force now decides who approves
	}
	ms, err := s.memberships(ctx, teams, by)
	if err != nil {
		return EmergencyReview{}, fmt.Errorf("reviewing emergency change %s: %w", id, err)
	}
	if !anyMember(ms) {
		return EmergencyReview{}, s.refuseAction(ctx, by, what, id, refuse(CodeNotApprover,
			"only members of %s may review emergency changes to %s", strings.Join(teamStrings(teams), ", "), rev.Environment))
	}
	now := s.now().UTC()
	if configured && p.EmergencyRequireWebAuthn {
		if ref, err := s.reviewProof(ctx, proof, rev, p, by, outcome, note, now); ref != nil || err != nil {
			if err != nil {
				return EmergencyReview{}, fmt.Errorf("reviewing emergency change %s: %w", id, err)
			}
			return EmergencyReview{}, s.refuseAction(ctx, by, what, id, ref)
		}
	} else {
		proof = nil
	}
	updated, err := s.compliance.UpdateEmergencyReview(ctx, id, func(cur *EmergencyReview) ([]AuditEvent, error) {
		if !cur.Pending() {
			return nil, refuse(CodeAlreadyReviewed, "emergency change %s was already reviewed by %s (%s)",
				id, cur.Reviewer.Login, cur.Outcome)
		}
		cur.Outcome, cur.Reviewer, cur.ReviewedAt, cur.Note = outcome, by, now, note
		data := map[string]any{
			"outcome": outcome, "reviewer": by.Login, "reviewer_id": by.GitHubID, "note": note,
			"repo": cur.Repo, "environment": cur.Environment, "deployer": cur.Deployer.Login,
			"deployed_at": cur.DeployedAt, "reviewed_at": now, "due_at": cur.DueAt,
			"latency_seconds": int64(now.Sub(cur.DeployedAt).Seconds()), "late": now.After(cur.DueAt)}
		if proof != nil {
			data["mfa"], data["sha"] = proof, cur.SHA
		}
		return []AuditEvent{{Actor: actorOf(by), Action: ActionEmergencyReviewed, Subject: id, Data: data}}, nil
	})
	if ref, ok := AsRefusal(err); ok {
		return EmergencyReview{}, s.refuseAction(ctx, by, what, id, ref)
	}
	if err != nil {
		return EmergencyReview{}, fmt.Errorf("reviewing emergency change %s: %w", id, err)
	}
	if r, err := s.store.Request(ctx, id); err == nil {
		s.notify(ctx, Notification{Kind: NotifyEmergencyReviewed, Request: r, Actor: by, EmergencyReview: &updated})
	}
	return updated, nil
}

// EmergencyReview returns the after-the-fact review of emergency change
// id; ok is false while none is open (or without a compliance store).
func (s *Service) EmergencyReview(ctx context.Context, id string) (review EmergencyReview, ok bool, err error) {
	if s.compliance == nil {
		return EmergencyReview{}, false, nil
	}
	rev, err := s.compliance.EmergencyReview(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return EmergencyReview{}, false, nil
	}
	if err != nil {
		return EmergencyReview{}, false, fmt.Errorf("reading the review of emergency change %s: %w", id, err)
	}
	return rev, true, nil
}

// reviewerSeparation applies an approver's separation of duties to the
// after-the-fact reviewer: neither the person who deployed the change nor
// the author of the pull request it came through may review it. The
// request is read for its PR; not finding it is an error (fail closed).
func (s *Service) reviewerSeparation(ctx context.Context, rev EmergencyReview, by Identity) (*Refusal, error) {
	if by.Same(rev.Deployer) {
		return refuse(CodeSelfReview, "you deployed emergency change %s; another approver must review it", rev.RequestID), nil
	}
	r, err := s.store.Request(ctx, rev.RequestID)
	if err != nil {
		return nil, fmt.Errorf("reading the request for its PR author: %w", err)
	}
	if by.Same(r.Requester) {
		return refuse(CodeSelfReview, "you requested emergency change %s; another approver must review it", rev.RequestID), nil
	}
	if r.PR != nil && by.Same(r.PR.Author) {
		return refuse(CodeAuthorReview, "you wrote PR #%d, which emergency change %s deployed; another approver must review it",
			r.PR.Number, rev.RequestID), nil
	}
	return nil, nil
}

// EmergencyReviews lists emergency reviews (pending only when pendingOnly),
// for /deploy status, doctor and evidence; Overdue tells which are late.
func (s *Service) EmergencyReviews(ctx context.Context, pendingOnly bool) ([]EmergencyReview, error) {
	if s.compliance == nil {
		return nil, errNoCompliance
	}
	rs, err := s.compliance.ListEmergencyReviews(ctx, pendingOnly)
	if err != nil {
		return nil, fmt.Errorf("listing emergency reviews: %w", err)
	}
	return rs, nil
}
