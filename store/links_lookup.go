package store

import (
	"context"
	"fmt"
	"sync"
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
// lookups are in-process calls and are not grouped.
type linkLookups struct {
	s       *Store
	mu      sync.Mutex
	pending []*linkCall
	running bool
	queries atomic.Int64
}

// linkCall is one LinkFor waiting for its query.
type linkCall struct {
	team, user string
	link       bot.Link
	found      bool
	err        error
	done       chan struct{} // closed once link, found and err are set
	// group is set, before turn is closed, when this call must run the
	// query for group (itself first among it).
	group []*linkCall
	turn  chan struct{}
}

// lookup returns the link of team/user, found false when there is none.
func (g *linkLookups) lookup(ctx context.Context, team, user string) (bot.Link, bool, error) {
	c := &linkCall{team: team, user: user, done: make(chan struct{}), turn: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	var group []*linkCall
	if !g.running {
		g.running = true
		group = g.takeLocked()
	}
	g.mu.Unlock()
	if group == nil {
		// Not ctx.Done: a caller queued here may be handed the next
		// group's turn, and must take it for the others (each query is
		// bounded by run's timeout).
		select {
		case <-c.done:
		case <-c.turn:
			group = c.group
		}
	}
	if group != nil {
		g.run(ctx, group)
	}
	<-c.done
	return c.link, c.found, c.err
}

// takeLocked removes the next group from the queue; g.mu must be held.
func (g *linkLookups) takeLocked() []*linkCall {
	n := min(len(g.pending), maxLinkLookup)
	group := g.pending[:n:n]
	g.pending = g.pending[n:]
	if len(g.pending) == 0 {
		g.pending = nil
	}
	return group
}

// run answers group with one query, then hands the next group to the
// first call queued meanwhile, or ends the turn.
func (g *linkLookups) run(ctx context.Context, group []*linkCall) {
	// The others' answers must not fail because this caller went away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	links, err := g.query(ctx, group)
	g.queries.Add(1)
	for _, c := range group {
		c.link, c.found = links[[2]string{c.team, c.user}]
		c.link.Chat = bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: c.team, User: c.user}
		c.err = err
		close(c.done)
	}
	g.mu.Lock()
	if len(g.pending) > 0 {
		next := g.takeLocked()
		next[0].group = next
		close(next[0].turn)
	} else {
		g.running = false
	}
	g.mu.Unlock()
}

// query reads the links of every call in group.
func (g *linkLookups) query(ctx context.Context, group []*linkCall) (map[[2]string]bot.Link, error) {
	teams, users := make([]string, len(group)), make([]string, len(group))
	for i, c := range group {
		teams[i], users[i] = c.team, c.user
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
