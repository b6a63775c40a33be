package bot

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Reminder schedule of an emergency review: one reminder every quarter of
// review_within after the deploy (6 h, 12 h, 18 h for the default 24 h),
// the first to the environment's channel, the later ones to the approvers
// directly; at review_within the review is flagged overdue, and reminders
// keep going to the approvers on the same beat until someone reviews.
const (
	emergencyRemindersPerWindow = 4
	minEmergencyReminderEvery   = 15 * time.Minute
)

// emergencyReminderEvery is the beat of the reminders for a review window.
func emergencyReminderEvery(within time.Duration) time.Duration {
	return max(within/emergencyRemindersPerWindow, minEmergencyReminderEvery)
}

// SweepResult counts what one sweep did.
type SweepResult struct {
	Opened   int // reviews opened that the worker had failed to open
	Reminded int // reminders sent
	Overdue  int // reviews newly flagged overdue
}

// SweepEmergencyReviews opens any missing review of an emergency change
// that started deploying, sends the reminders that are due and flags reviews that went
// past their deadline. The serve loop calls it every few minutes; calling
// it more often changes nothing, since each step is recorded.
func (s *Service) SweepEmergencyReviews(ctx context.Context) (SweepResult, error) {
	var res SweepResult
	if s.compliance == nil {
		return res, errNoCompliance
	}
	opened, err := s.openMissingReviews(ctx)
	res.Opened = opened
	if err != nil {
		return res, err
	}
	pending, err := s.compliance.ListEmergencyReviews(ctx, true)
	if err != nil {
		return res, fmt.Errorf("listing pending emergency reviews: %w", err)
	}
	for _, rev := range pending {
		overdue, reminded, err := s.sweepOne(ctx, rev)
		if err != nil {
			return res, err
		}
		if overdue {
			res.Overdue++
		}
		if reminded {
			res.Reminded++
		}
	}
	return res, nil
}

// openMissingReviews opens the review of recent emergency changes that
// started deploying and have none (the worker's attempt failed, or the
// process died during the deploy).
func (s *Service) openMissingReviews(ctx context.Context) (int, error) {
	done, err := s.store.ListRequests(ctx, RequestFilter{States: emergencyEndStates, Trigger: TriggerEmergency, Limit: 1000})
	if err != nil {
		return 0, fmt.Errorf("listing finished requests: %w", err)
	}
	n := 0
	for _, r := range done {
		if !needsEmergencyReview(r) {
			continue
		}
		if _, err := s.compliance.EmergencyReview(ctx, r.ID); err == nil {
			continue
		} else if !errors.Is(err, ErrNotFound) {
			return n, fmt.Errorf("reading the review of emergency change %s: %w", r.ID, err)
		}
		rev, created, err := s.ensureEmergencyReview(ctx, r)
		if err != nil {
			return n, err
		}
		if created {
			n++
			s.notify(ctx, Notification{Kind: NotifyEmergencyReview, Request: r, EmergencyReview: &rev,
				Audience: AudienceApprovers, Teams: rev.Approvers})
		}
	}
	return n, nil
}

// sweepOne flags rev overdue and sends its next reminder when due.
func (s *Service) sweepOne(ctx context.Context, rev EmergencyReview) (overdue, reminded bool, err error) {
	now := s.now().UTC()
	within := rev.DueAt.Sub(rev.DeployedAt)
	every := emergencyReminderEvery(within)
	var kinds []NotificationKind
	var audience Audience
	updated, err := s.compliance.UpdateEmergencyReview(ctx, rev.RequestID, func(cur *EmergencyReview) ([]AuditEvent, error) {
		kinds, audience = nil, ""
		if !cur.Pending() {
			return nil, errSkip
		}
		var events []AuditEvent
		if cur.OverdueAt.IsZero() && !now.Before(cur.DueAt) {
			cur.OverdueAt = now
			kinds = append(kinds, NotifyEmergencyReviewOverdue)
			events = append(events, AuditEvent{Actor: "tollgate", Action: ActionEmergencyReviewOverdue, Subject: cur.RequestID,
				Data: map[string]any{"repo": cur.Repo, "environment": cur.Environment, "deployer": cur.Deployer.Login,
					"deployed_at": cur.DeployedAt, "due_at": cur.DueAt, "flagged_at": now}})
		}
		// Beats elapsed since the deploy; several missed beats (the
		// process was down) send one reminder, not a burst.
		beats := int(now.Sub(cur.DeployedAt) / every)
		if beats > cur.Reminders {
			cur.Reminders = beats
			cur.LastRemindedAt = now
			audience = AudienceApprovers
			if beats == 1 {
				audience = AudienceChannel
			}
			kinds = append(kinds, NotifyEmergencyReviewReminder)
			events = append(events, AuditEvent{Actor: "tollgate", Action: ActionEmergencyReviewReminded, Subject: cur.RequestID,
				Data: map[string]any{"audience": audience, "reminder": beats, "due_at": cur.DueAt,
					"overdue": !now.Before(cur.DueAt), "approvers": teamStrings(cur.Approvers)}})
		}
		if len(events) == 0 {
			return nil, errSkip
		}
		return events, nil
	})
	if errors.Is(err, errSkip) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("sweeping the review of emergency change %s: %w", rev.RequestID, err)
	}
	req, err := s.store.Request(ctx, rev.RequestID)
	if err != nil {
		return false, false, fmt.Errorf("reading emergency change %s: %w", rev.RequestID, err)
	}
	for _, k := range kinds {
		n := Notification{Kind: k, Request: req, EmergencyReview: &updated, Teams: updated.Approvers, Audience: AudienceChannel}
		if k == NotifyEmergencyReviewReminder {
			n.Audience = audience
			reminded = true
		} else {
			overdue = true
		}
		s.notify(ctx, n)
	}
	return overdue, reminded, nil
}

// lockReminderKey names a lock's reminders; a new lock on the same
// environment starts its own count.
func lockReminderKey(l Lock) string {
	return fmt.Sprintf("lock:%s:%s:%d", l.Repo, l.Environment, l.CreatedAt.UnixNano())
}

// RemindLocks reminds the owner of every lock held longer than after, and
// again every after while it is held. It returns how many reminders went out.
func (s *Service) RemindLocks(ctx context.Context, after time.Duration) (int, error) {
	if s.compliance == nil {
		return 0, errNoCompliance
	}
	if after <= 0 {
		return 0, fmt.Errorf("lock reminders: interval %s must be positive", after)
	}
	locks, err := s.compliance.ListLocks(ctx)
	if err != nil {
		return 0, fmt.Errorf("listing locks: %w", err)
	}
	now := s.now().UTC()
	n := 0
	for _, l := range locks {
		if !l.Active(now) {
			continue
		}
		key := lockReminderKey(l)
		_, count, err := s.compliance.Reminded(ctx, key)
		if err != nil {
			return n, fmt.Errorf("reading reminders of the lock on %s %s: %w", l.Repo, l.Environment, err)
		}
		held := now.Sub(l.CreatedAt)
		beats := int(held / after)
		if beats <= count {
			continue
		}
		ev := AuditEvent{Actor: "tollgate", Action: ActionLockReminded, Subject: l.Repo + " " + l.Environment, Data: map[string]any{
			"repo": l.Repo, "environment": l.Environment, "owner": l.Owner.Login, "owner_id": l.Owner.GitHubID,
			"reason": l.Reason, "held_since": l.CreatedAt, "held_seconds": int64(held.Seconds()), "reminder": beats}}
		err = s.compliance.RecordReminder(ctx, key, now, beats, ev)
		if errors.Is(err, ErrConflict) {
			continue // another replica sent this reminder
		}
		if err != nil {
			return n, fmt.Errorf("recording the reminder of the lock on %s %s: %w", l.Repo, l.Environment, err)
		}
		lock := l
		s.notify(ctx, Notification{Kind: NotifyLockReminder, Lock: &lock, Actor: l.Owner, Audience: AudienceOwner,
			Request: Request{Repo: l.Repo, Environment: l.Environment}})
		n++
	}
	return n, nil
}
