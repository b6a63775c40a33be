package bot

import (
	"context"
	"fmt"
	"strings"
)

// OrgMembership answers whether one person is an active member of an
// organisation, live (one API call instead of listing every member).
type OrgMembership interface {
	IsOrgMember(ctx context.Context, org, login string) (bool, error)
}

// AccessLoss is what a membership change cost a person in Tollgate.
type AccessLoss struct {
	Roles   []AccessGrant // roles lost through the team they left (team removals)
	LeftOrg bool          // they are no longer a member of the organisation
	Audited bool          // access.revoked was written
}

// teamRole is one role on one environment (or Tollgate-wide) and every
// team that grants it.
type teamRole struct {
	repo, env string
	role      AccessRole
	teams     []Team
}

// rolesThrough lists the roles team grants under the configuration in
// force: environments' deployers, approvers and emergency teams, and the
// Tollgate-wide admins and access reviewers. Teams carry their org, so a
// team of another organisation grants nothing.
func (a *AccessReviews) rolesThrough(team Team) []teamRole {
	var out []teamRole
	add := func(repo, env string, role AccessRole, teams []Team) {
		if containsTeam(teams, team) {
			out = append(out, teamRole{repo: repo, env: env, role: role, teams: teams})
		}
	}
	for _, p := range a.cfg.Environments {
		add(p.Repo, p.Environment, RoleDeploy, p.Deployers)
		add(p.Repo, p.Environment, RoleApprove, p.Approvers)
		add(p.Repo, p.Environment, RoleEmergency, p.Emergency)
	}
	add("", "", RoleAdmin, a.cfg.Admins)
	add("", "", RoleAccessReviewer, a.cfg.Reviewers)
	return out
}

// TeamMemberRemoved acts on GitHub reporting that who left org/team. Only
// a Tollgate team counts (one the configuration names, so of its
// organisation), and only when, asked live, who is not back in it and
// holds a role it gave through no other team: then their pending requests
// and approvals that needed the role are withdrawn and access.revoked
// records the roles lost. Their Slack links stay: they are still in the
// organisation. In every other case nothing is written.
func (a *AccessReviews) TeamMemberRemoved(ctx context.Context, who Identity, org, team, source string) (AccessLoss, error) {
	s := a.svc
	t := Team{Org: org, Slug: team}
	roles := a.rolesThrough(t)
	if len(roles) == 0 || who.Login == "" {
		return AccessLoss{}, nil
	}
	still, err := s.dir.IsTeamMember(ctx, org, team, who)
	if err != nil {
		return AccessLoss{}, fmt.Errorf("team removal of %s from %s: checking live: %w", who.Login, t, err)
	}
	if still {
		return AccessLoss{}, nil // added back, or the event is stale
	}
	var lost []AccessGrant
	for _, r := range roles {
		var others []Team
		for _, x := range r.teams {
			if !containsTeam([]Team{t}, x) {
				others = append(others, x)
			}
		}
		ms, err := s.memberships(ctx, others, who)
		if err != nil {
			return AccessLoss{}, fmt.Errorf("team removal of %s from %s: %w", who.Login, t, err)
		}
		if !anyMember(ms) {
			lost = append(lost, AccessGrant{Repo: r.repo, Environment: r.env, Role: r.role, Login: who.Login, Team: t.String()})
		}
	}
	if len(lost) == 0 {
		return AccessLoss{}, nil
	}
	canceled, revoked, err := s.withdrawPending(ctx, who, source)
	if err != nil {
		return AccessLoss{}, err
	}
	names := make([]string, len(lost))
	for i, g := range lost {
		names[i] = g.String()
	}
	ev := AuditEvent{Actor: "tollgate", Action: ActionAccessRevoked, Subject: who.Login, Data: map[string]any{
		"login": who.Login, "github_id": who.GitHubID, "source": source, "team": t.String(), "roles_lost": names,
		"canceled_requests": canceled, "revoked_approvals_on": revoked, "slack_links_removed": 0}}
	if err := s.store.AppendAudit(ctx, ev); err != nil {
		return AccessLoss{}, fmt.Errorf("team removal of %s from %s: auditing: %w", who.Login, t, err)
	}
	return AccessLoss{Roles: lost, Audited: true}, nil
}

// OrgMemberRemoved acts on GitHub reporting that who left org. Only the
// configured organisation counts, and only when, asked live, who is not a
// member (again): then their pending requests and approvals are withdrawn
// and their Slack links deleted. access.revoked is written when Tollgate
// had something of theirs to take away (a link, pending work), as the
// daily reconciliation does; someone Tollgate never knew leaves no entry.
func (a *AccessReviews) OrgMemberRemoved(ctx context.Context, who Identity, org, source string) (AccessLoss, error) {
	s := a.svc
	if !strings.EqualFold(org, a.cfg.Org) || who.Login == "" {
		return AccessLoss{}, nil
	}
	member, err := a.isOrgMember(ctx, who.Login)
	if err != nil {
		return AccessLoss{}, fmt.Errorf("%s leaving %s: checking live: %w", who.Login, org, err)
	}
	if member {
		return AccessLoss{}, nil
	}
	canceled, revoked, err := s.withdrawPending(ctx, who, source)
	if err != nil {
		return AccessLoss{}, err
	}
	var unlinked int
	if who.GitHubID != 0 {
		links, err := s.store.DeleteLinks(ctx, ChatIdentity{}, who.GitHubID, AuditEvent{Actor: "tollgate",
			Action: ActionIdentityUnlinked, Subject: who.Login, Data: map[string]any{"github_id": who.GitHubID, "reason": "left " + org}})
		if err != nil {
			return AccessLoss{}, fmt.Errorf("%s leaving %s: removing Slack links: %w", who.Login, org, err)
		}
		unlinked = len(links)
	}
	loss := AccessLoss{LeftOrg: true}
	if len(canceled)+len(revoked)+unlinked == 0 {
		return loss, nil
	}
	ev := AuditEvent{Actor: "tollgate", Action: ActionAccessRevoked, Subject: who.Login, Data: map[string]any{
		"login": who.Login, "github_id": who.GitHubID, "source": source, "left_org": org,
		"canceled_requests": canceled, "revoked_approvals_on": revoked, "slack_links_removed": unlinked}}
	if err := s.store.AppendAudit(ctx, ev); err != nil {
		return AccessLoss{}, fmt.Errorf("%s leaving %s: auditing: %w", who.Login, org, err)
	}
	loss.Audited = true
	return loss, nil
}

// isOrgMember asks GitHub whether login is a member of the organisation:
// one call through Member when configured, else the member list.
func (a *AccessReviews) isOrgMember(ctx context.Context, login string) (bool, error) {
	if a.cfg.Member != nil {
		return a.cfg.Member.IsOrgMember(ctx, a.cfg.Org, login)
	}
	ms, err := a.cfg.Members.OrgMembers(ctx, a.cfg.Org)
	if err != nil {
		return false, err
	}
	for _, m := range ms {
		if strings.EqualFold(m.Login, login) {
			return true, nil
		}
	}
	return false, nil
}
