package github

import (
	"context"
	"fmt"

	"github.com/google/go-github/v60/github"
)

// onMembership keeps team decisions live: any change drops the person's
// cached memberships, and a removal withdraws what they had pending.
func (d *Dispatcher) onMembership(ctx context.Context, dl hookDelivery, e *github.MembershipEvent) error {
	member := e.GetMember()
	if member.GetLogin() == "" {
		return nil
	}
	d.members.Invalidate(member.GetLogin())
	if e.GetAction() != "removed" {
		return nil
	}
	source := fmt.Sprintf("membership removed webhook: %s/%s", e.GetOrg().GetLogin(), e.GetTeam().GetSlug())
	return d.revoke(ctx, dl, member, source)
}

// onOrganization handles people leaving the organization.
func (d *Dispatcher) onOrganization(ctx context.Context, dl hookDelivery, e *github.OrganizationEvent) error {
	user := e.GetMembership().GetUser()
	if user.GetLogin() == "" {
		return nil
	}
	switch e.GetAction() {
	case "member_added":
		d.members.Invalidate(user.GetLogin())
	case "member_removed":
		d.members.Invalidate(user.GetLogin())
		return d.revoke(ctx, dl, user, "organization member_removed webhook: "+e.GetOrganization().GetLogin())
	}
	return nil
}

// revoke tells the domain that who lost access; it cancels their pending
// requests and approvals where they no longer hold the role, live.
func (d *Dispatcher) revoke(ctx context.Context, dl hookDelivery, who *github.User, source string) error {
	if err := d.bot.AccessRevoked(ctx, webhookIdentity(who), source); err != nil {
		return fmt.Errorf("revoking access of %s: %w", who.GetLogin(), err)
	}
	dl.log.Info("access revoked", "login", who.GetLogin())
	return nil
}
