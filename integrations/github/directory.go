package github

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
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

	mu     sync.Mutex
	epoch  uint64 // bumped by every invalidation
	cache  map[memberKey]memberAnswer
	logins map[int64]loginAnswer // numeric id → current login
}

// loginAnswer is the current login of a numeric id, as GitHub answered it
// at; gone when no account holds the id any more.
type loginAnswer struct {
	login string
	gone  bool
	at    time.Time
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
	return &Directory{app: app, ttl: ttl, now: app.now, cache: map[memberKey]memberAnswer{}, logins: map[int64]loginAnswer{}}
}

// IsTeamMember reports whether who is an active member of org/team. With
// a numeric id the account holding it is looked up first (GET
// /user/{id}), and its current login asked about: a login recorded
// earlier may have been renamed away and taken by someone else. An id no
// account holds any more is no member.
func (d *Directory) IsTeamMember(ctx context.Context, org, team string, who bot.Identity) (bool, error) {
	if org == "" || team == "" || (who.Login == "" && who.GitHubID == 0) {
		return false, fmt.Errorf("team membership of %q in %s/%s: org, team and login are required", who.Login, org, team)
	}
	login := who.Login
	if who.GitHubID != 0 {
		current, gone, err := d.currentLogin(ctx, org, who.GitHubID)
		if err != nil {
			return false, fmt.Errorf("team membership of %s in %s/%s: %w", who.Login, org, team, err)
		}
		if gone {
			return false, nil
		}
		login = current
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

// currentLogin returns the login of the account with numeric id now,
// cached up to the TTL like memberships; gone when no account has it.
func (d *Directory) currentLogin(ctx context.Context, org string, id int64) (login string, gone bool, err error) {
	d.mu.Lock()
	ans, ok := d.logins[id]
	d.mu.Unlock()
	if ok && d.now().Sub(ans.at) < d.ttl {
		return ans.login, ans.gone, nil
	}
	c, err := d.app.ForOrg(ctx, org)
	if err != nil {
		return "", false, err
	}
	u, resp, err := c.Users.GetByID(ctx, id)
	switch {
	case statusOf(resp) == http.StatusNotFound:
		ans = loginAnswer{gone: true}
	case err != nil:
		return "", false, fmt.Errorf("reading the account with id %d: %w", id, err)
	case u.GetLogin() == "" || u.GetID() != id:
		return "", false, fmt.Errorf("reading the account with id %d: GitHub answered account %d %q", id, u.GetID(), u.GetLogin())
	default:
		ans = loginAnswer{login: u.GetLogin()}
	}
	ans.at = d.now()
	d.mu.Lock()
	d.logins[id] = ans
	d.mu.Unlock()
	return ans.login, ans.gone, nil
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
	for id, a := range d.logins {
		if strings.EqualFold(a.login, login) {
			delete(d.logins, id)
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
