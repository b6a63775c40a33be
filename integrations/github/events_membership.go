package github

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"

	"github.com/tollgate-dev/tollgate/bot"
)

// onMembership keeps team decisions live: any change drops the person's
// cached memberships, and a removal from a team is handed to the access
// controls, which act only when it cost the person a Tollgate role.
func (d *Dispatcher) onMembership(ctx context.Context, dl hookDelivery, e *github.MembershipEvent) error {
	member := e.GetMember()
	if member.GetLogin() == "" {
		return nil
	}
	d.members.Invalidate(member.GetLogin())
	if e.GetAction() != "removed" || e.GetScope() != "team" {
		return nil
	}
	org, team := e.GetOrg().GetLogin(), e.GetTeam().GetSlug()
	access, ok := d.accessControls(dl)
	if !ok || org == "" || team == "" {
		return nil
	}
	source := fmt.Sprintf("membership removed webhook: %s/%s", org, team)
	loss, err := access.TeamMemberRemoved(ctx, webhookIdentity(member), org, team, source)
	if err != nil {
		return fmt.Errorf("removal of %s from %s/%s: %w", member.GetLogin(), org, team, err)
	}
	d.logLoss(dl, member.GetLogin(), source, loss)
	return nil
}

// onOrganization handles people leaving the organization.
func (d *Dispatcher) onOrganization(ctx context.Context, dl hookDelivery, e *github.OrganizationEvent) error {
	user := e.GetMembership().GetUser()
	if user.GetLogin() == "" {
		return nil
	}
	d.members.Invalidate(user.GetLogin())
	if e.GetAction() != "member_removed" {
		return nil
	}
	access, ok := d.accessControls(dl)
	if !ok {
		return nil
	}
	org := e.GetOrganization().GetLogin()
	source := "organization member_removed webhook: " + org
	loss, err := access.OrgMemberRemoved(ctx, webhookIdentity(user), org, source)
	if err != nil {
		return fmt.Errorf("%s leaving %s: %w", user.GetLogin(), org, err)
	}
	d.logLoss(dl, user.GetLogin(), source, loss)
	return nil
}

// accessControls returns the access controls in force, or false (logged)
// when there are none: the cache was dropped, which is all that can be done.
func (d *Dispatcher) accessControls(dl hookDelivery) (AccessChanges, bool) {
	if d.access == nil {
		return nil, false
	}
	a, err := d.access()
	if err != nil || a == nil {
		dl.log.Warn("membership change not acted on: no access controls", "err", err)
		return nil, false
	}
	return a, true
}

func (d *Dispatcher) logLoss(dl hookDelivery, login, source string, loss bot.AccessLoss) {
	if !loss.Audited {
		dl.log.Info("membership change cost no Tollgate role", "login", login, "source", source, "left_org", loss.LeftOrg)
		return
	}
	dl.log.Info("access revoked", "login", login, "source", source, "roles_lost", len(loss.Roles), "left_org", loss.LeftOrg)
}
