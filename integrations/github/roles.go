package github

import (
	"context"
	"fmt"
	"net/http"
)

// IsOrgMember implements bot.OrgMembership: whether login is an active
// member of org (GET /orgs/{org}/memberships/{login}; an invitation not
// yet accepted is not membership). Uncached, like the rest of Roster.
func (r *Roster) IsOrgMember(ctx context.Context, org, login string) (bool, error) {
	c, err := r.app.ForOrg(ctx, org)
	if err != nil {
		return false, fmt.Errorf("membership of %s in %s: %w", login, org, err)
	}
	m, resp, err := c.Organizations.GetOrgMembership(ctx, login, org)
	if statusOf(resp) == http.StatusNotFound {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("membership of %s in %s: %w", login, org, err)
	}
	return m.GetState() == "active", nil
}
