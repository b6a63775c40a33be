package github

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
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

// RepoPermission returns login's permission on repo as GitHub's
// collaborator permission endpoint names it: "admin", "maintain", "write",
// "triage", "read" or "none" (role_name, which tells maintain and triage
// apart; permission when an older server has no role_name).
func (r *Roster) RepoPermission(ctx context.Context, repo, login string) (string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	c, err := r.app.ForRepo(ctx, repo)
	if err != nil {
		return "", fmt.Errorf("permission of %s on %s: %w", login, repo, err)
	}
	// go-github v60 does not decode role_name.
	req, err := c.NewRequest("GET", fmt.Sprintf("repos/%s/%s/collaborators/%s/permission",
		url.PathEscape(owner), url.PathEscape(name), url.PathEscape(login)), nil)
	if err != nil {
		return "", err
	}
	var p struct {
		Permission string `json:"permission"`
		RoleName   string `json:"role_name"`
	}
	resp, err := c.Do(ctx, req, &p)
	if statusOf(resp) == http.StatusNotFound {
		return "none", nil
	}
	if err != nil {
		return "", fmt.Errorf("permission of %s on %s: %w", login, repo, err)
	}
	if p.RoleName != "" {
		return p.RoleName, nil
	}
	return p.Permission, nil
}
