package store

import "sync"

// groupTurns lets concurrent calls share work (one transaction, one
// query): each call queues; while fewer than slots groups are being worked
// on, an arriving call takes the queue (itself alone, as nothing waits
// then) and works on it as the group's leader; a call arriving later waits
// until a group holding it is done, or until it is handed the next group
// when one ends. The inbox's group commit and the grouped identity lookup
// use it.
type groupTurns[T any] struct {
	mu      sync.Mutex
	pending []*groupCall[T]
	running int // groups being worked on; at most slots
}

// groupCall is one call's place in a groupTurns queue. In is the call's
// input, and its result once the group's work has filled it in.
type groupCall[T any] struct {
	In   T
	done chan struct{} // closed once In holds the result
	// group is set, before turn is closed, when this call must lead the
	// group (itself first among it).
	group []*groupCall[T]
	turn  chan struct{}
}

// do queues in and returns it as the work of a group holding it left it.
// work runs on the leader's goroutine with the whole group and fills in
// each call's In; the calls are then released, after (when not nil) runs
// with the group, and the next group is handed on. A waiting call ignores
// cancellation: it may be handed the next group, which it must lead for
// the others, so work bounds its own time.
func (g *groupTurns[T]) do(in T, slots, limit int, work, after func(group []*groupCall[T])) T {
	c := &groupCall[T]{In: in, done: make(chan struct{}), turn: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	var group []*groupCall[T]
	if g.running < slots {
		g.running++
		group = g.takeLocked(limit)
	}
	g.mu.Unlock()
	if group == nil {
		select {
		case <-c.done:
		case <-c.turn:
			group = c.group
		}
	}
	if group != nil {
		g.lead(group, limit, work, after)
	}
	<-c.done
	return c.In
}

// lead works on group, releases its calls, and hands on the next group or
// ends this turn.
func (g *groupTurns[T]) lead(group []*groupCall[T], limit int, work, after func(group []*groupCall[T])) {
	work(group)
	for _, c := range group {
		close(c.done)
	}
	if after != nil {
		after(group)
	}
	g.mu.Lock()
	if len(g.pending) > 0 {
		next := g.takeLocked(limit)
		next[0].group = next
		close(next[0].turn)
	} else {
		g.running--
	}
	g.mu.Unlock()
}

// takeLocked removes the next group, at most limit calls, from the queue;
// g.mu must be held.
func (g *groupTurns[T]) takeLocked(limit int) []*groupCall[T] {
	n := min(len(g.pending), limit)
	group := g.pending[:n:n]
	g.pending = g.pending[n:]
	if len(g.pending) == 0 {
		g.pending = nil
	}
	return group
}
