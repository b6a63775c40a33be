package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// MaxMembershipTTL is the longest a team membership answer is trusted
// (issue 4: cached ≤ 60 s), so removing someone in GitHub removes their
// deploy rights within a minute even if the membership webhook is lost.
const MaxMembershipTTL = 60 * time.Second

// Directory implements bot.Directory over GET
// /orgs/{org}/teams/{team}/memberships/{user}: an active membership is
// membership; pending (invited, not accepted) or absent is not. Answers
// are cached up to the TTL; an API error is returned, never taken for
// membership or cached.
type Directory struct {
	app *App
	ttl time.Duration
	now func() time.Time

	mu    sync.Mutex
	epoch uint64 // bumped by every invalidation
	cache map[memberKey]memberAnswer
}

type memberKey struct{ org, team, login string }

type memberAnswer struct {
	member bool
	at     time.Time
}

// NewDirectory returns a Directory over app's installations. ttl outside
// (0, MaxMembershipTTL] means MaxMembershipTTL.
func NewDirectory(app *App, ttl time.Duration) *Directory {
	if ttl <= 0 || ttl > MaxMembershipTTL {
		ttl = MaxMembershipTTL
	}
	return &Directory{app: app, ttl: ttl, now: app.now, cache: map[memberKey]memberAnswer{}}
}

// IsTeamMember reports whether login is an active member of org/team.
func (d *Directory) IsTeamMember(ctx context.Context, org, team, login string) (bool, error) {
	if org == "" || team == "" || login == "" {
		return false, fmt.Errorf("team membership of %q in %s/%s: org, team and login are required", login, org, team)
	}
	key := memberKey{strings.ToLower(org), strings.ToLower(team), strings.ToLower(login)}
	d.mu.Lock()
	ans, ok := d.cache[key]
	epoch := d.epoch
	d.mu.Unlock()
	if ok && d.now().Sub(ans.at) < d.ttl {
		return ans.member, nil
	}
	member, err := d.lookup(ctx, org, team, login)
	if err != nil {
		return false, err
	}
	d.mu.Lock()
	// An invalidation that raced with the lookup may have been about this
	// very membership: keep the answer for this call, do not cache it.
	if d.epoch == epoch {
		d.cache[key] = memberAnswer{member: member, at: d.now()}
	}
	d.mu.Unlock()
	return member, nil
}

func (d *Directory) lookup(ctx context.Context, org, team, login string) (bool, error) {
	c, err := d.app.ForOrg(ctx, org)
	if err != nil {
		return false, fmt.Errorf("team membership of %s in %s/%s: %w", login, org, team, err)
	}
	m, resp, err := c.Teams.GetTeamMembershipBySlug(ctx, org, team, login)
	if statusOf(resp) == http.StatusNotFound {
		// GitHub answers 404 both for "not a member" and for an unknown
		// team; either way the person is not a member.
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("team membership of %s in %s/%s: %w", login, org, team, err)
	}
	if m == nil {
		return false, errors.New("team membership of " + login + " in " + org + "/" + team + ": empty answer")
	}
	return m.GetState() == "active", nil
}

// Invalidate forgets every cached membership of login (membership removed,
// organisation member_removed webhooks).
func (d *Directory) Invalidate(login string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.epoch++
	for k := range d.cache {
		if strings.EqualFold(k.login, login) {
			delete(d.cache, k)
		}
	}
}

// InvalidateTeam forgets every cached membership of org/team.
func (d *Directory) InvalidateTeam(org, team string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.epoch++
	for k := range d.cache {
		if strings.EqualFold(k.org, org) && strings.EqualFold(k.team, team) {
			delete(d.cache, k)
		}
	}
}
