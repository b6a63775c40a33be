package bot

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// NewRequest is a deploy ask from any trigger.
type NewRequest struct {
	// SourceKey makes submission idempotent: the webhook delivery id, the
	// Slack trigger id, "deployment:<id>". Required.
	SourceKey          string
	Repo               string
	Environment        string
	Ref                string // resolved to a SHA once, here, when SHA is empty
	SHA                string
	Trigger            Trigger
	Requester          Identity
	Reason             string
	Ticket             string
	GitHubDeploymentID int64
	ProtectionRule     *ProtectionRuleRun
	Release            string // rollbacks: the release to return to; empty means the previous one
	// MFA is the requester's security key assertion over an emergency
	// change (emergency.require_webauthn), verified by the web transport.
	MFA *MFAProof
}

// Outcome is the result of Submit.
type Outcome struct {
	Request  Request
	Created  bool // false when SourceKey was seen before: nothing new happened
	Decision Decision
}

// Submit turns an ask into a request: it fetches the facts, decides, and
// stores the request with its decision in one transaction. A denied ask is
// stored as rejected and also returned as a *Refusal error. A repeated
// SourceKey returns the existing request and does nothing else.
func (s *Service) Submit(ctx context.Context, in NewRequest) (Outcome, error) {
	if in.SourceKey == "" {
		return Outcome{}, errors.New("submit: source key is required for idempotency")
	}
	if !in.Trigger.Valid() {
		return Outcome{}, fmt.Errorf("submit %s: unknown trigger %q", in.SourceKey, in.Trigger)
	}
	if in.Trigger == TriggerEmergency && s.compliance == nil {
		// Fail closed: an emergency change nobody can review afterwards is not allowed.
		return Outcome{}, fmt.Errorf("submit %s: %w", in.SourceKey, errNoCompliance)
	}
	if prev, err := s.store.RequestBySource(ctx, in.SourceKey); err == nil {
		return duplicate(prev), nil
	} else if !errors.Is(err, ErrNotFound) {
		return Outcome{}, fmt.Errorf("submit %s: looking up source key: %w", in.SourceKey, err)
	}

	p, ok := s.policies.Environment(in.Repo, in.Environment)
	if !ok {
		return Outcome{}, s.refuseAction(ctx, in.Requester, "request.submit", in.Repo+" "+in.Environment,
			refuse(CodeUnknownEnv, "%s has no environment %q; it has: %s", in.Repo, in.Environment,
				strings.Join(s.policies.Environments(in.Repo), ", ")))
	}
	now := s.now().UTC()
	r := Request{
		ID: NewRequestID(), SourceKey: in.SourceKey, Repo: in.Repo, Environment: in.Environment,
		Ref: in.Ref, SHA: in.SHA, Trigger: in.Trigger, Requester: in.Requester,
		Reason: in.Reason, Ticket: in.Ticket, State: StateRequested,
		GitHubDeploymentID: in.GitHubDeploymentID, ProtectionRule: in.ProtectionRule, Release: in.Release,
		ApprovalNonce: newNonce(), CreatedAt: now, UpdatedAt: now,
	}
	if r.Ref == "" && r.SHA == "" {
		r.Ref = p.DefaultRef() // "/deploy production" deploys the head of the first allowed branch
	}
	// Who asks comes first: for someone without the role nothing else is
	// fetched from GitHub.
	ms, err := s.memberships(ctx, roleTeams(p, r.Trigger), r.Requester)
	if err != nil {
		return Outcome{}, fmt.Errorf("submit to %s %s: %w", r.Repo, r.Environment, err)
	}
	var facts Facts
	var proof *MFAProof // the requester's assertion over an emergency change
	if !anyMember(ms) {
		facts = Facts{Now: now, Memberships: ms, RoleOnly: true, BranchContains: map[string]bool{}}
		if r.Trigger.AskedByAPerson() {
			// A person's own ask leaves one audit line (within their
			// refusal limit), no request and nothing in any channel.
			d := Evaluate(p, &r, facts)
			return Outcome{}, s.refuseNoRole(ctx, in.Requester, "request.submit", in.Repo+" "+in.Environment, d.Refusal())
		}
		// A merge, a label or a deployment happened anyway: it stays on
		// record as a refused request, decided on the role alone. Its pull
		// request is the one other fact: it is where the refusal is told.
		if r.SHA != "" {
			if facts.PR, err = s.changes.PullRequestForCommit(ctx, r.Repo, r.SHA); err != nil {
				return Outcome{}, fmt.Errorf("submit %s to %s %s: finding its pull request: %w", short(r.SHA), r.Repo, r.Environment, err)
			}
		}
	} else {
		if err := s.resolveTarget(ctx, &r); err != nil {
			if ref, ok := AsRefusal(err); ok {
				return Outcome{}, s.refuseAction(ctx, in.Requester, "request.submit", in.Repo+" "+in.Environment, ref)
			}
			return Outcome{}, err
		}
		proof, err = s.emergencyProof(ctx, in, &r, p, now)
		if ref, ok := AsRefusal(err); ok {
			return Outcome{}, s.refuseAction(ctx, in.Requester, "request.submit", in.Repo+" "+in.Environment, ref)
		}
		if err != nil {
			return Outcome{}, err
		}
		if facts, err = s.gatherFacts(ctx, p, &r, now, ms); err != nil {
			return Outcome{}, fmt.Errorf("submit %s to %s %s: %w", r.SHA, r.Repo, r.Environment, err)
		}
	}
	r.PR, facts.MFA = facts.PR, proof
	d := Evaluate(p, &r, facts)
	events, err := s.decide(&r, p, d, now)
	if err != nil {
		return Outcome{}, err
	}
	withProof(events, proof)

	for attempt := 0; ; attempt++ {
		out := &outboxed{build: submitNotes}
		stored, created, err := s.store.CreateRequest(ctx, r, events, out.Notes)
		if errors.Is(err, ErrConflict) && attempt < 3 { // id collision: draw another
			r.ID = NewRequestID()
			if events, err = s.decide(resetState(&r), p, d, now); err != nil {
				return Outcome{}, err
			}
			withProof(events, proof)
			continue
		}
		if err != nil {
			return Outcome{}, fmt.Errorf("storing request for %s %s: %w", r.Repo, r.Environment, err)
		}
		if !created {
			return duplicate(stored), nil
		}
		s.deliver(ctx, out, stored)
		if stored.State == StateQueued {
			s.kick()
		}
		return Outcome{Request: stored, Created: true, Decision: d}, d.refusalErr()
	}
}

func duplicate(r Request) Outcome {
	o := Outcome{Request: r}
	if r.Decision != nil {
		o.Decision = *r.Decision
	}
	return o
}

func (d *Decision) refusalErr() error {
	if d.Allowed {
		return nil
	}
	return d.Refusal()
}

func resetState(r *Request) *Request {
	r.State = StateRequested
	return r
}

// resolveTarget fixes the SHA the request is about: the ref's commit now,
// or for a rollback the release before the one live.
func (s *Service) resolveTarget(ctx context.Context, r *Request) error {
	if r.Trigger == TriggerRollback {
		return s.resolveRollback(ctx, r)
	}
	if r.SHA != "" {
		if r.Ref == "" {
			r.Ref = r.SHA
		}
		return nil
	}
	if r.Ref == "" {
		return refuse(CodeUnknownRef, "say what to deploy: a branch, tag or commit")
	}
	sha, err := s.changes.ResolveRef(ctx, r.Repo, r.Ref)
	if errors.Is(err, ErrNotFound) {
		return refuse(CodeUnknownRef, "%s has no branch, tag or commit %q", r.Repo, r.Ref)
	}
	if err != nil {
		return fmt.Errorf("resolving %s in %s: %w", r.Ref, r.Repo, err)
	}
	r.SHA = sha
	return nil
}

// resolveRollback targets the last successful deploy before the live one
// (or the named release), in the order they went live: a request created
// early but approved late went live after one created later.
func (s *Service) resolveRollback(ctx context.Context, r *Request) error {
	done, err := s.store.ListRequests(ctx, RequestFilter{Repo: r.Repo, Environment: r.Environment,
		States: []State{StateSucceeded}, Limit: 50, ByFinish: true})
	if err != nil {
		return fmt.Errorf("reading deploy history of %s %s: %w", r.Repo, r.Environment, err)
	}
	for i, d := range done {
		if r.Release != "" && d.Result != nil && d.Result.Release == r.Release {
			r.SHA, r.Ref = d.SHA, d.SHA
			return nil
		}
		if r.Release == "" && i == 1 {
			r.SHA, r.Ref = d.SHA, d.SHA
			if d.Result != nil {
				r.Release = d.Result.Release
			}
			return nil
		}
	}
	if r.Release != "" {
		return refuse(CodeNothingToRollBack, "no successful deploy of release %s on %s", r.Release, r.Environment)
	}
	return refuse(CodeNothingToRollBack, "%s has no earlier successful deploy to roll back to", r.Environment)
}

// roleTeams are the teams whose members may ask for trigger on p.
func roleTeams(p *EnvironmentPolicy, trigger Trigger) []Team {
	if trigger == TriggerEmergency {
		return p.Emergency
	}
	return p.Deployers
}

// gatherFacts fetches what policy needs besides the requester's
// memberships ms, already looked up. Any lookup error fails the
// submission: no decision is made on missing facts.
func (s *Service) gatherFacts(ctx context.Context, p *EnvironmentPolicy, r *Request, now time.Time, ms []Membership) (Facts, error) {
	f := Facts{Now: now, BranchContains: map[string]bool{}, Memberships: ms}
	var err error
	if r.Trigger != TriggerRollback {
		for _, b := range p.Branches {
			on, err := s.changes.BranchContains(ctx, r.Repo, b, r.SHA)
			if err != nil {
				return Facts{}, fmt.Errorf("checking whether %s is on %s: %w", short(r.SHA), b, err)
			}
			f.BranchContains[b] = on
			if on {
				break
			}
		}
		if f.PR, err = s.changes.PullRequestForCommit(ctx, r.Repo, r.SHA); err != nil {
			return Facts{}, fmt.Errorf("finding the pull request of %s: %w", short(r.SHA), err)
		}
		if p.RequireChecks {
			if f.Checks, err = s.changes.Checks(ctx, r.Repo, r.SHA); err != nil {
				return Facts{}, fmt.Errorf("reading checks of %s: %w", short(r.SHA), err)
			}
		}
	}
	if f.Lock, err = s.store.Lock(ctx, r.Repo, r.Environment); err != nil {
		return Facts{}, fmt.Errorf("reading lock of %s %s: %w", r.Repo, r.Environment, err)
	}
	return f, nil
}

// memberships looks who up in teams until one says yes (by numeric id
// when known: see Directory).
func (s *Service) memberships(ctx context.Context, teams []Team, who Identity) ([]Membership, error) {
	var out []Membership
	login := who.Login
	if login == "" {
		return nil, nil
	}
	for _, t := range teams {
		ok, err := s.dir.IsTeamMember(ctx, t.Org, t.Slug, who)
		if err != nil {
			return nil, fmt.Errorf("checking %s's membership in %s: %w", login, t, err)
		}
		out = append(out, Membership{Team: t, Login: login, Member: ok})
		if ok {
			break
		}
	}
	return out, nil
}

// decide moves a new request out of requested according to d and returns
// the audit events of its creation.
func (s *Service) decide(r *Request, p *EnvironmentPolicy, d Decision, now time.Time) ([]AuditEvent, error) {
	r.Decision = &d
	r.ConfigHash = d.ConfigHash
	r.RequiredApprovals = p.RequiredApprovals
	if d.Ticket != "" {
		r.Ticket = d.Ticket
	}
	actor := r.Requester.Login
	events := []AuditEvent{
		{Actor: actor, Action: ActionRequestCreated, Subject: r.ID, Data: createdData(r)},
		{Actor: "tollgate", Action: ActionPolicyDecided, Subject: r.ID, Data: d},
	}
	var to State
	switch {
	case !d.Allowed:
		to = StateRejected
	case r.Trigger == TriggerEmergency || p.RequiredApprovals <= 0:
		to = StateQueued
		r.QueuedAt = now
	default:
		to = StateAwaitingApproval
		r.ApprovalDeadline = now.Add(p.approvalTTL())
	}
	from := r.State
	if err := r.transition(to, d.Reason); err != nil {
		return nil, err
	}
	return append(events, stateEvent(r, from, "tollgate")), nil
}

func createdData(r *Request) map[string]any {
	data := map[string]any{
		"repo": r.Repo, "environment": r.Environment, "ref": r.Ref, "sha": r.SHA,
		"trigger": r.Trigger, "requester": r.Requester.Login, "requester_id": r.Requester.GitHubID,
		"reason": r.Reason, "ticket": r.Ticket, "source_key": r.SourceKey,
	}
	if r.PR != nil {
		data["pr"] = r.PR.Number
		data["pr_author"] = r.PR.Author.Login
	}
	if r.GitHubDeploymentID != 0 {
		data["github_deployment_id"] = r.GitHubDeploymentID
	}
	if r.Release != "" {
		data["release"] = r.Release
	}
	return data
}

// stateEvent records a transition that just happened on r.
func stateEvent(r *Request, from State, actor string) AuditEvent {
	return AuditEvent{Actor: actor, Action: ActionRequestState, Subject: r.ID, Data: map[string]any{
		"from": from, "to": r.State, "reason": r.StateReason,
		"repo": r.Repo, "environment": r.Environment, "sha": r.SHA,
	}}
}

// submitNotes are the notifications a new request implies.
func submitNotes(r Request) []Notification {
	switch r.State {
	case StateRejected:
		return one(NotifyRefused, r.Requester)(r)
	case StateAwaitingApproval:
		return one(NotifyApprovalNeeded, r.Requester)(r)
	case StateQueued:
		return one(NotifyStateChanged, r.Requester)(r)
	}
	return nil
}

// refuseAction audits a refused action that changes no request and
// returns the refusal. When the audit write fails, that error is returned
// instead: nothing is refused silently.
func (s *Service) refuseAction(ctx context.Context, who Identity, action, subject string, ref *Refusal) error {
	ev := AuditEvent{Actor: actorOf(who), Action: ActionActionRefused, Subject: subject, Data: map[string]any{
		"action": action, "code": ref.Code, "reason": ref.Reason, "github_id": who.GitHubID, "slack_user": who.ChatUser,
	}}
	if err := s.store.AppendAudit(ctx, ev); err != nil {
		return fmt.Errorf("auditing refusal of %s on %s: %w", action, subject, err)
	}
	return ref
}

// actorOf names a person in audit entries: the GitHub login, or the chat
// account when not linked. Identity.ChatUser does not carry its platform:
// Slack is the one chat platform today (docs/architecture.md says what
// adding another takes).
func actorOf(who Identity) string {
	if who.Login != "" {
		return who.Login
	}
	if who.ChatUser != "" {
		return PlatformSlack + ":" + who.ChatUser
	}
	return "unknown"
}
