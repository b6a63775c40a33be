package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// maxLinkLookup bounds how many identity lookups one query answers.
const maxLinkLookup = 256

// linkLookups answers concurrent LinkFor calls on PostgreSQL with one query
// each round: while one query runs, the calls arriving meanwhile queue, and
// the first of them runs the next query for all of them. Every Slack
// command looks its sender up before it is acknowledged; in a burst,
// hundreds of lookups each held one of the pool's connections until their
// goroutine was scheduled again to read 0.05 ms of work, and the commands
// waited about 33 ms each for a connection (BENCHMARKS.md, "Where one
// replica waits"). Each caller's answer is read by a query that starts
// after the call, so it is as fresh as a lookup of its own. SQLite's
// lookups are in-process calls and are not grouped. The queue is the
// inbox group commit's (groupTurns), with one query at a time.
type linkLookups struct {
	s       *Store
	turns   groupTurns[linkCall]
	queries atomic.Int64
}

// linkCall is one LinkFor: whose link, and what was found.
type linkCall struct {
	team, user string
	link       bot.Link
	found      bool
	err        error
}

// lookup returns the link of team/user, found false when there is none.
func (g *linkLookups) lookup(ctx context.Context, team, user string) (bot.Link, bool, error) {
	// The others' answers must not fail because this caller went away, so
	// its cancellation is dropped; each query has a deadline of its own.
	ctx = context.WithoutCancel(ctx)
	c := g.turns.do(linkCall{team: team, user: user}, 1, maxLinkLookup,
		func(group []*groupCall[linkCall]) { g.run(ctx, group) }, nil)
	return c.link, c.found, c.err
}

// linkLookupTimeout bounds one grouped query, from when it starts (not
// from when its callers queued).
const linkLookupTimeout = 30 * time.Second

// run answers group with one query.
func (g *linkLookups) run(ctx context.Context, group []*groupCall[linkCall]) {
	ctx, cancel := context.WithTimeout(ctx, linkLookupTimeout)
	defer cancel()
	links, err := g.query(ctx, group)
	g.queries.Add(1)
	for _, c := range group {
		c.In.link, c.In.found = links[[2]string{c.In.team, c.In.user}]
		c.In.link.Chat = bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: c.In.team, User: c.In.user}
		c.In.err = err
	}
}

// query reads the links of every call in group.
func (g *linkLookups) query(ctx context.Context, group []*groupCall[linkCall]) (map[[2]string]bot.Link, error) {
	teams, users := make([]string, len(group)), make([]string, len(group))
	for i, c := range group {
		teams[i], users[i] = c.In.team, c.In.user
	}
	rows, err := g.s.db.QueryContext(ctx, `SELECT slack_team, slack_user, github_login, github_id, linked_at
		FROM identity_links WHERE (slack_team, slack_user) IN (SELECT * FROM unnest(?::text[], ?::text[]))`, teams, users)
	if err != nil {
		return nil, fmt.Errorf("look up %d identity links: %w", len(group), err)
	}
	defer rows.Close()
	links := make(map[[2]string]bot.Link, len(group))
	for rows.Next() {
		var team, user string
		var l bot.Link
		var linked int64
		if err := rows.Scan(&team, &user, &l.GitHubLogin, &l.GitHubID, &linked); err != nil {
			return nil, fmt.Errorf("read identity links: %w", err)
		}
		l.LinkedAt = fromNanos(linked)
		links[[2]string{team, user}] = l
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read identity links: %w", err)
	}
	return links, nil
}
