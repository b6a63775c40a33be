package bot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// DefaultAccessReviewInterval is how old the last signed access review may
// get before a reminder goes out (access_review.interval).
const DefaultAccessReviewInterval = 90 * 24 * time.Hour

// TeamMembers lists the active members of a GitHub team, live.
type TeamMembers interface {
	TeamMembers(ctx context.Context, org, team string) ([]string, error)
}

// Member is one member of the GitHub organisation.
type Member struct {
	Login    string
	GitHubID int64
}

// OrgMembers lists the members of a GitHub organisation, live.
type OrgMembers interface {
	OrgMembers(ctx context.Context, org string) ([]Member, error)
}

// AccessRole is a right Tollgate grants through a team.
type AccessRole string

// Access roles.
const (
	RoleDeploy         AccessRole = "deploy"
	RoleApprove        AccessRole = "approve"
	RoleEmergency      AccessRole = "emergency"
	RoleAdmin          AccessRole = "admin"           // Tollgate-wide: unlock anyone's lock
	RoleAccessReviewer AccessRole = "access_reviewer" // Tollgate-wide: sign off access reviews
)

// AccessGrant is one person holding one role, through one team. Repo and
// Environment are empty for Tollgate-wide roles.
type AccessGrant struct {
	Repo        string     `json:"repo,omitempty"`
	Environment string     `json:"environment,omitempty"`
	Role        AccessRole `json:"role"`
	Login       string     `json:"login"`
	Team        string     `json:"team"`
}

func (g AccessGrant) key() string {
	return strings.ToLower(strings.Join([]string{g.Repo, g.Environment, string(g.Role), g.Login, g.Team}, "\x00"))
}

// String reads "alice may deploy to acme/shop production (via acme/deployers)".
func (g AccessGrant) String() string {
	where := ""
	if g.Repo != "" {
		where = " on " + g.Repo + " " + g.Environment
	}
	return fmt.Sprintf("%s: %s%s (via %s)", g.Login, g.Role, where, g.Team)
}

// AccessReviewOutcome is an access reviewer's sign-off.
type AccessReviewOutcome string

// Sign-off outcomes.
const (
	AccessNoChanges     AccessReviewOutcome = "no_changes"     // "Reviewed, no changes"
	AccessChangesNeeded AccessReviewOutcome = "changes_needed" // "Changes needed", with a note
)

// Valid reports whether o is a sign-off outcome.
func (o AccessReviewOutcome) Valid() bool { return o == AccessNoChanges || o == AccessChangesNeeded }

// AccessReview is one recorded snapshot of who can do what, what changed
// since the last signed review, and its sign-off.
type AccessReview struct {
	ID         string
	TakenAt    time.Time
	TakenBy    string
	Grants     []AccessGrant
	Added      []AccessGrant // since PreviousID
	Removed    []AccessGrant
	PreviousID string // the review compared with; empty for the first
	Digest     string // SHA-256 of the grants, hex

	Outcome     AccessReviewOutcome // empty until signed off
	SignedOffBy Identity
	SignedOffAt time.Time
	Note        string
}

// Signed reports whether a reviewer signed the snapshot off.
func (r *AccessReview) Signed() bool { return r.Outcome != "" }

// AccessReviewStore keeps access reviews and what reconciliation needs.
type AccessReviewStore interface {
	// SaveAccessReview stores a new snapshot and appends ev.
	SaveAccessReview(ctx context.Context, r AccessReview, ev AuditEvent) error
	// AccessReview returns one review, or an error wrapping ErrNotFound.
	AccessReview(ctx context.Context, id string) (AccessReview, error)
	// LatestAccessReview returns the newest snapshot (signed only when
	// signedOnly); ok is false when there is none.
	LatestAccessReview(ctx context.Context, signedOnly bool) (r AccessReview, ok bool, err error)
	// UpdateAccessReview reads review id, lets change modify it and writes
	// it with the events change returns, in one transaction.
	UpdateAccessReview(ctx context.Context, id string, change func(*AccessReview) ([]AuditEvent, error)) (AccessReview, error)
	// ListLinks returns every Slack↔GitHub link.
	ListLinks(ctx context.Context) ([]Link, error)
	// MarkOrgMembersSeen records that members were in org at at.
	MarkOrgMembersSeen(ctx context.Context, org string, members []Member, at time.Time) error
	// OrgMemberLastSeen returns when login was last seen in org.
	OrgMemberLastSeen(ctx context.Context, org, login string) (at time.Time, ok bool, err error)
}

// AccessReviewConfig is what access reviews need beyond the Service.
type AccessReviewConfig struct {
	Org          string               // the organisation whose members reconciliation checks
	Environments []*EnvironmentPolicy // every configured environment
	Admins       []Team               // teams.admins
	Reviewers    []Team               // teams.access_reviewers
	Interval     time.Duration        // 0 means DefaultAccessReviewInterval
	Teams        TeamMembers
	Members      OrgMembers
	// Member answers one person's organisation membership (membership
	// webhooks); nil lists Members instead.
	Member OrgMembership
}

// AccessReviews records access reviews, their sign-off and reminders, and
// reconciles departed people daily.
type AccessReviews struct {
	svc *Service
	cfg AccessReviewConfig
}

// AccessReviews returns the access review controls of s.
func (s *Service) AccessReviews(cfg AccessReviewConfig) (*AccessReviews, error) {
	switch {
	case s.compliance == nil:
		return nil, errNoCompliance
	case cfg.Teams == nil:
		return nil, errors.New("access reviews: TeamMembers is required")
	case cfg.Members == nil:
		return nil, errors.New("access reviews: OrgMembers is required")
	case cfg.Org == "":
		return nil, errors.New("access reviews: the organisation is required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultAccessReviewInterval
	}
	envs := append([]*EnvironmentPolicy(nil), cfg.Environments...)
	sort.Slice(envs, func(i, j int) bool {
		if envs[i].Repo != envs[j].Repo {
			return envs[i].Repo < envs[j].Repo
		}
		return envs[i].Environment < envs[j].Environment
	})
	cfg.Environments = envs
	return &AccessReviews{svc: s, cfg: cfg}, nil
}

// Resolve lists, live from GitHub, who can deploy, approve and use the
// emergency path on every environment, and who holds the Tollgate-wide
// roles, sorted. Any lookup failure fails the whole resolution: a partial
// list would read as people having lost access.
func (a *AccessReviews) Resolve(ctx context.Context) ([]AccessGrant, error) {
	cache := map[Team][]string{}
	members := func(t Team) ([]string, error) {
		if m, ok := cache[t]; ok {
			return m, nil
		}
		m, err := a.cfg.Teams.TeamMembers(ctx, t.Org, t.Slug)
		if err != nil {
			return nil, fmt.Errorf("listing members of %s: %w", t, err)
		}
		cache[t] = m
		return m, nil
	}
	seen := map[string]bool{}
	var out []AccessGrant
	add := func(repo, env string, role AccessRole, teams []Team) error {
		for _, t := range teams {
			ms, err := members(t)
			if err != nil {
				return err
			}
			for _, login := range ms {
				g := AccessGrant{Repo: repo, Environment: env, Role: role, Login: login, Team: t.String()}
				if !seen[g.key()] {
					seen[g.key()] = true
					out = append(out, g)
				}
			}
		}
		return nil
	}
	for _, p := range a.cfg.Environments {
		for _, r := range []struct {
			role  AccessRole
			teams []Team
		}{{RoleDeploy, p.Deployers}, {RoleApprove, p.Approvers}, {RoleEmergency, p.Emergency}} {
			if err := add(p.Repo, p.Environment, r.role, r.teams); err != nil {
				return nil, err
			}
		}
	}
	if err := add("", "", RoleAdmin, a.cfg.Admins); err != nil {
		return nil, err
	}
	if err := add("", "", RoleAccessReviewer, a.cfg.Reviewers); err != nil {
		return nil, err
	}
	sortGrants(out)
	return out, nil
}

func sortGrants(gs []AccessGrant) {
	sort.Slice(gs, func(i, j int) bool { return gs[i].key() < gs[j].key() })
}

// grantsDigest is the hex SHA-256 of the sorted grants' JSON.
func grantsDigest(gs []AccessGrant) string {
	b, _ := json.Marshal(gs) // strings only: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// diffGrants returns the grants in next but not in prev, and the reverse.
func diffGrants(prev, next []AccessGrant) (added, removed []AccessGrant) {
	in := func(gs []AccessGrant) map[string]bool {
		m := map[string]bool{}
		for _, g := range gs {
			m[g.key()] = true
		}
		return m
	}
	p, n := in(prev), in(next)
	for _, g := range next {
		if !p[g.key()] {
			added = append(added, g)
		}
	}
	for _, g := range prev {
		if !n[g.key()] {
			removed = append(removed, g)
		}
	}
	return added, removed
}

// Snapshot resolves access now, compares it with the last signed review
// (or the last snapshot when none was signed), records it, audited, and
// asks the access reviewers to sign it off. by names who asked for it.
func (a *AccessReviews) Snapshot(ctx context.Context, by string) (AccessReview, error) {
	grants, err := a.Resolve(ctx)
	if err != nil {
		return AccessReview{}, fmt.Errorf("access review: %w", err)
	}
	st := a.svc.compliance
	prev, ok, err := st.LatestAccessReview(ctx, true)
	if err == nil && !ok {
		prev, ok, err = st.LatestAccessReview(ctx, false)
	}
	if err != nil {
		return AccessReview{}, fmt.Errorf("access review: reading the last review: %w", err)
	}
	r := AccessReview{ID: "ar-" + NewRequestID()[2:], TakenAt: a.svc.now().UTC(), TakenBy: by,
		Grants: grants, Digest: grantsDigest(grants)}
	if ok {
		r.PreviousID = prev.ID
	}
	r.Added, r.Removed = diffGrants(prev.Grants, grants)
	ev := AuditEvent{Actor: by, Action: ActionAccessReviewSnapshot, Subject: r.ID, Data: map[string]any{
		"review": r.ID, "digest": r.Digest, "grants": len(grants), "previous": r.PreviousID,
		"added": grantStrings(r.Added), "removed": grantStrings(r.Removed), "taken_at": r.TakenAt}}
	if err := st.SaveAccessReview(ctx, r, ev); err != nil {
		return AccessReview{}, fmt.Errorf("access review: recording snapshot: %w", err)
	}
	a.svc.notify(ctx, Notification{Kind: NotifyAccessReviewRecorded, AccessReview: &r,
		Audience: AudienceAccessReviewers, Teams: a.cfg.Reviewers})
	return r, nil
}

func grantStrings(gs []AccessGrant) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = g.String()
	}
	return out
}

// SignOff records an access reviewer's verdict on snapshot id. Only
// members of teams.access_reviewers may sign off; "changes needed" needs
// a note; a snapshot is signed off once.
func (a *AccessReviews) SignOff(ctx context.Context, id string, by Identity, outcome AccessReviewOutcome, note string) (AccessReview, error) {
	const what = "access_review.sign_off"
	s := a.svc
	if !outcome.Valid() {
		return AccessReview{}, s.refuseAction(ctx, by, what, id, refuse(CodeBadCommand,
			"a sign-off is %q or %q, not %q", AccessNoChanges, AccessChangesNeeded, outcome))
	}
	if outcome == AccessChangesNeeded && strings.TrimSpace(note) == "" {
		return AccessReview{}, s.refuseAction(ctx, by, what, id, refuse(CodeNoteMissing, "say which changes are needed"))
	}
	ms, err := s.memberships(ctx, a.cfg.Reviewers, by)
	if err != nil {
		return AccessReview{}, fmt.Errorf("signing off access review %s: %w", id, err)
	}
	if !anyMember(ms) {
		return AccessReview{}, s.refuseAction(ctx, by, what, id, refuse(CodeNotAccessReviewer,
			"only members of %s may sign off access reviews", strings.Join(teamStrings(a.cfg.Reviewers), ", ")))
	}
	now := s.now().UTC()
	updated, err := s.compliance.UpdateAccessReview(ctx, id, func(cur *AccessReview) ([]AuditEvent, error) {
		if cur.Signed() {
			return nil, refuse(CodeAlreadyReviewed, "access review %s was already signed off by %s (%s)",
				id, cur.SignedOffBy.Login, cur.Outcome)
		}
		cur.Outcome, cur.SignedOffBy, cur.SignedOffAt, cur.Note = outcome, by, now, note
		return []AuditEvent{{Actor: actorOf(by), Action: ActionAccessReviewSignedOff, Subject: id, Data: map[string]any{
			"review": id, "outcome": outcome, "note": note, "reviewer": by.Login, "reviewer_id": by.GitHubID,
			"digest": cur.Digest, "taken_at": cur.TakenAt, "signed_off_at": now,
			"added": len(cur.Added), "removed": len(cur.Removed)}}}, nil
	})
	if errors.Is(err, ErrNotFound) {
		return AccessReview{}, s.refuseAction(ctx, by, what, id, refuse(CodeWrongState, "there is no access review %s", id))
	}
	if ref, ok := AsRefusal(err); ok {
		return AccessReview{}, s.refuseAction(ctx, by, what, id, ref)
	}
	if err != nil {
		return AccessReview{}, fmt.Errorf("signing off access review %s: %w", id, err)
	}
	s.notify(ctx, Notification{Kind: NotifyAccessReviewSignedOff, AccessReview: &updated, Actor: by,
		Audience: AudienceAccessReviewers, Teams: a.cfg.Reviewers})
	return updated, nil
}

// accessReviewReminderKey names the access review reminders.
const accessReviewReminderKey = "access_review"

// Due reports whether an access review is due at now: no signed review,
// or the last one older than the interval. A review is as old as its
// snapshot (TakenAt): signing off an old snapshot today attests access as
// it was then, so it does not restart the clock. last is that review.
func (a *AccessReviews) Due(ctx context.Context) (due bool, last *AccessReview, err error) {
	r, ok, err := a.svc.compliance.LatestAccessReview(ctx, true)
	if err != nil {
		return false, nil, fmt.Errorf("reading the last signed access review: %w", err)
	}
	if !ok {
		return true, nil, nil
	}
	return a.svc.now().Sub(r.TakenAt) >= a.cfg.Interval, &r, nil
}

// RemindIfDue reminds the access reviewers when a review is due, at most
// once a day. It reports whether it sent a reminder.
func (a *AccessReviews) RemindIfDue(ctx context.Context) (bool, error) {
	due, last, err := a.Due(ctx)
	if err != nil || !due {
		return false, err
	}
	now := a.svc.now().UTC()
	prev, count, err := a.svc.compliance.Reminded(ctx, accessReviewReminderKey)
	if err != nil {
		return false, fmt.Errorf("reading access review reminders: %w", err)
	}
	if !prev.IsZero() && now.Sub(prev) < 24*time.Hour && (last == nil || prev.After(last.SignedOffAt)) {
		return false, nil
	}
	data := map[string]any{"interval_days": int(a.cfg.Interval.Hours() / 24), "reminder": count + 1}
	if last != nil {
		data["last_signed_at"], data["last_review"] = last.SignedOffAt, last.ID
		data["last_taken_at"] = last.TakenAt
	}
	ev := AuditEvent{Actor: "tollgate", Action: ActionAccessReviewReminded, Subject: accessReviewReminderKey, Data: data}
	err = a.svc.compliance.RecordReminder(ctx, accessReviewReminderKey, now, count+1, ev)
	if errors.Is(err, ErrConflict) {
		return false, nil // another replica sent this reminder
	}
	if err != nil {
		return false, fmt.Errorf("recording the access review reminder: %w", err)
	}
	a.svc.notify(ctx, Notification{Kind: NotifyAccessReviewDue, AccessReview: last,
		Audience: AudienceAccessReviewers, Teams: a.cfg.Reviewers})
	return true, nil
}
