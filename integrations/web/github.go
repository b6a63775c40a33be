package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-github/v60/github"
)

// Who may see the pages: an active member of github.org (any role), or an
// active member of one of the teams.auditors teams. Every page is
// read-only, so there is one level of access; the auditors role is shown
// in the header so an auditor's session is recognisable. GitHub teams hold
// only organisation members, so in practice the team check labels people
// rather than admitting extra ones; it also admits auditors when the org
// membership answer is hidden from the token but the team's is not.

// errNoAccess means GitHub answered and the account may not see the pages.
var errNoAccess = errors.New("not an active member of the organisation or an auditors team")

// errTokenRefused means GitHub no longer accepts the user's token (it
// expired or was revoked): the person must sign in again.
var errTokenRefused = errors.New("GitHub refused the user token")

// Roles a viewer may have.
const (
	RoleMember  = "member"
	RoleAuditor = "auditor"
)

// access returns the viewer's role, errNoAccess, or errTokenRefused. It asks with the
// user's own token: GET /user/memberships/orgs/{org} (state active), then
// GET /orgs/{org}/teams/{slug}/memberships/{login} for each auditors team.
// Any other failure is an error, and the caller shows no page.
func (h *Handler) access(ctx context.Context, token, login string) (string, error) {
	gh, err := h.gh.API(token)
	if err != nil {
		return "", err
	}
	org := h.cfg.OAuth.Org
	role := ""
	m, resp, err := gh.Organizations.GetOrgMembership(ctx, "", org)
	switch {
	case err == nil && m.GetState() == "active":
		role = RoleMember
	case err == nil || refusedOrMissing(err, resp):
	case unauthorized(resp):
		return "", errTokenRefused
	default:
		return "", fmt.Errorf("reading %s's membership of %s: %w", login, org, err)
	}
	for _, slug := range h.cfg.OAuth.AuditorTeams {
		m, resp, err := gh.Teams.GetTeamMembershipBySlug(ctx, org, slug, login)
		switch {
		case err == nil && m.GetState() == "active":
			return RoleAuditor, nil
		case err == nil || refusedOrMissing(err, resp):
		case unauthorized(resp):
			return "", errTokenRefused
		default:
			return "", fmt.Errorf("reading %s's membership of team %s/%s: %w", login, org, slug, err)
		}
	}
	if role == "" {
		return "", errNoAccess
	}
	return role, nil
}

// refusedOrMissing is GitHub's "not a member" (404) or "you may not see
// this" (403): either way, no access through this check.
// A rate limit (also a 403) is neither: it is an error.
func refusedOrMissing(err error, resp *github.Response) bool {
	var rate *github.RateLimitError
	var abuse *github.AbuseRateLimitError
	if errors.As(err, &rate) || errors.As(err, &abuse) {
		return false
	}
	return resp != nil && (resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusForbidden)
}

// unauthorized is a token GitHub no longer accepts (expired or revoked).
func unauthorized(resp *github.Response) bool {
	return resp != nil && resp.StatusCode == http.StatusUnauthorized
}
