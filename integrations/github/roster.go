package github

import (
	"context"
	"fmt"
	"sort"

	gh "github.com/google/go-github/v60/github"

	"github.com/tollgate-dev/tollgate/bot"
)

// Roster lists team and organisation members for access reviews and the
// daily reconciliation (bot.TeamMembers, bot.OrgMembers). Unlike
// Directory it does not cache: a review must see GitHub as it is.
type Roster struct{ app *App }

// NewRoster returns a Roster over app's installations.
func NewRoster(app *App) *Roster { return &Roster{app: app} }

// TeamMembers implements bot.TeamMembers: the logins of org/team's
// members, sorted. An unknown team is an error, never an empty team.
func (r *Roster) TeamMembers(ctx context.Context, org, team string) ([]string, error) {
	c, err := r.app.ForOrg(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("members of %s/%s: %w", org, team, err)
	}
	var out []string
	opts := &gh.TeamListTeamMembersOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		users, resp, err := c.Teams.ListTeamMembersBySlug(ctx, org, team, opts)
		if err != nil {
			return nil, fmt.Errorf("members of %s/%s: %w", org, team, err)
		}
		for _, u := range users {
			out = append(out, u.GetLogin())
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	sort.Strings(out)
	return out, nil
}

// OrgMembers implements bot.OrgMembers.
func (r *Roster) OrgMembers(ctx context.Context, org string) ([]bot.Member, error) {
	c, err := r.app.ForOrg(ctx, org)
	if err != nil {
		return nil, fmt.Errorf("members of %s: %w", org, err)
	}
	var out []bot.Member
	opts := &gh.ListMembersOptions{ListOptions: gh.ListOptions{PerPage: 100}}
	for {
		users, resp, err := c.Organizations.ListMembers(ctx, org, opts)
		if err != nil {
			return nil, fmt.Errorf("members of %s: %w", org, err)
		}
		for _, u := range users {
			out = append(out, bot.Member{Login: u.GetLogin(), GitHubID: u.GetID()})
		}
		if resp.NextPage == 0 {
			break
		}
		opts.Page = resp.NextPage
	}
	return out, nil
}
