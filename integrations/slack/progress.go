package slack

import (
	"context"
	"fmt"
	"strconv"

	"github.com/tollgate-dev/tollgate/bot"
)

// Notifications of one request can arrive out of order: the approval path
// reports "queued" after its commit while a deploy worker already reports
// "running". The Notifier therefore brings Slack up to the request's state
// instead of replaying events: a notification older than one already shown
// (lower Request.Version) changes nothing, and thread lines follow the
// lifecycle, each once, with the steps a state implies filled in first.

// progress is what a request's message and thread show so far.
type progress struct {
	version int64 // newest Request.Version shown
	rank    int   // lifecycle rank of the last thread line posted
}

// maxTracked bounds the progress kept in memory; see forgetProgress.
const maxTracked = 10000

// threadRank orders the states that get a thread line.
func threadRank(s bot.State) int {
	switch s {
	case bot.StateQueued:
		return 1
	case bot.StateRunning:
		return 2
	case bot.StateFailed:
		return 3 // a failed deploy can still be rolled back
	case bot.StateSucceeded, bot.StateRolledBack, bot.StateInterrupted,
		bot.StateRejected, bot.StateExpired, bot.StateCanceled:
		return 4
	}
	return 0
}

// passedThrough lists the thread-worthy states a request in s went
// through, in order. Canceled may come from awaiting approval or from
// queued, so it implies nothing.
func passedThrough(s bot.State) []bot.State {
	switch s {
	case bot.StateRunning:
		return []bot.State{bot.StateQueued}
	case bot.StateSucceeded, bot.StateFailed, bot.StateRolledBack, bot.StateInterrupted:
		return []bot.State{bot.StateQueued, bot.StateRunning}
	}
	return nil
}

// stale reports whether a newer version of r was shown already, and
// otherwise remembers r's version as the newest. Call with n.mu held.
func (n *Notifier) stale(r bot.Request) bool {
	p, ok := n.progress[r.ID]
	if ok && r.Version < p.version {
		return true
	}
	if !ok {
		n.forgetProgress()
	}
	p.version = r.Version
	n.setProgress(r.ID, p)
	return false
}

// showProgress brings the request's message and thread up to r: the
// message is edited to show r, and the thread gets r's line preceded by
// the lines of the states r went through that it lacks. What the thread
// shows is recorded with the request (RefSlackThread) by whichever replica
// posts a line; for a message without that record only r's own line is added.
func (n *Notifier) showProgress(ctx context.Context, r bot.Request) error {
	if n.stale(r) {
		n.log.DebugContext(ctx, "slack: skipping a stale notification", "request", r.ID,
			"state", string(r.State), "version", r.Version)
		return nil
	}
	posted := r.ExternalRefs[RefSlackTS] == "" && n.refs[r.ID] == ""
	channel, ts, err := n.message(ctx, r)
	if err != nil {
		return err
	}
	if posted { // a fresh message: its thread is empty
		refs := map[string]string{RefSlackTS: channel + ":" + ts, RefSlackThread: "0"}
		for k, v := range r.ExternalRefs {
			if _, ok := refs[k]; !ok {
				refs[k] = v
			}
		}
		r.ExternalRefs = refs
	}
	if err := n.update(ctx, r); err != nil {
		return err
	}
	// What the thread shows is recorded with the request (RefSlackThread),
	// whichever replica posted it; a message from before that record, or
	// one whose record is missing, gets r's own line only.
	p := n.progress[r.ID]
	if r.State == bot.StateAwaitingApproval {
		// Sent back from the queue by the recheck at start: say why, and
		// let the thread tell the next round (queued, running) again.
		p.rank = 0
		n.setProgress(r.ID, p)
		if err := n.thread(ctx, r, channel, ts, threadText(r, n.links)); err != nil {
			return err
		}
		if err := n.reqs.SetExternalRef(ctx, r.ID, RefSlackThread, "0"); err != nil {
			return fmt.Errorf("recording the thread of request %s: %w", r.ID, err)
		}
		return nil
	}
	shown, unknown := strconv.Atoi(r.ExternalRefs[RefSlackThread])
	if unknown == nil {
		p.rank = max(p.rank, shown)
	}
	rank := threadRank(r.State)
	if rank == 0 || rank <= p.rank {
		return nil // nothing to say, or said already
	}
	var steps []bot.State
	if unknown == nil {
		for _, s := range passedThrough(r.State) {
			if threadRank(s) > p.rank {
				steps = append(steps, s)
			}
		}
	}
	for _, s := range append(steps, r.State) {
		step := r
		if s != r.State { // an earlier step: r's reason is not its reason
			step.State, step.StateReason = s, ""
		}
		if err := n.thread(ctx, r, channel, ts, threadText(step, n.links)); err != nil {
			return err
		}
		p.rank = threadRank(s)
		n.setProgress(r.ID, p)
		if err := n.reqs.SetExternalRef(ctx, r.ID, RefSlackThread, strconv.Itoa(p.rank)); err != nil {
			return fmt.Errorf("recording the thread of request %s: %w", r.ID, err)
		}
	}
	return nil
}

func (n *Notifier) setProgress(id string, p progress) {
	if n.progress == nil {
		n.progress = map[string]progress{}
	}
	n.progress[id] = p
}

// forgetProgress drops everything tracked once maxTracked requests are:
// with their message refs, so a forgotten request is treated as one whose
// thread is unknown (its own line only), never as one with an empty thread.
func (n *Notifier) forgetProgress() {
	if len(n.progress) < maxTracked {
		return
	}
	for id := range n.progress {
		delete(n.refs, id)
	}
	n.progress = map[string]progress{}
}
