package slack_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	tgslack "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// refBook is the bot side of the Notifier: it keeps the refs recorded per
// request, as the store would.
type refBook struct {
	mu   sync.Mutex
	refs map[string]map[string]string
}

func (b *refBook) SetExternalRef(_ context.Context, id, key, value string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refs == nil {
		b.refs = map[string]map[string]string{}
	}
	if b.refs[id] == nil {
		b.refs[id] = map[string]string{}
	}
	b.refs[id][key] = value
	return nil
}

func (b *refBook) Live(context.Context, string, string) (bot.Request, bool, error) {
	return bot.Request{}, false, nil
}

// Request returns the request as stored: here, its refs.
func (b *refBook) Request(_ context.Context, id string) (bot.Request, error) {
	return b.apply(bot.Request{ID: id}), nil
}

// apply returns r with the refs recorded so far, as the store would give it.
func (b *refBook) apply(r bot.Request) bot.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	r.ExternalRefs = map[string]string{}
	for k, v := range b.refs[r.ID] {
		r.ExternalRefs[k] = v
	}
	return r
}

type progressWorld struct {
	sl    *slacktest.Server
	book  *refBook
	notes *tgslack.Notifier
}

func newProgressWorld(t *testing.T) *progressWorld {
	t.Helper()
	w := &progressWorld{sl: slacktest.New(slacktest.Options{}), book: &refBook{}}
	t.Cleanup(w.sl.Close)
	w.sl.AddChannel(channel, "deploys")
	w.restart(t)
	return w
}

// restart replaces the Notifier, as a new process would: memory gone.
func (w *progressWorld) restart(t *testing.T) {
	t.Helper()
	n, err := tgslack.NewNotifier(tgslack.NotifierConfig{Slack: w.sl.Client(), Channel: channel,
		PublicURL: publicURL, GitHubWebURL: "https://github.com/", Clock: func() time.Time { return startAt }})
	if err != nil {
		t.Fatal(err)
	}
	n.Bind(w.book)
	w.notes = n
}

func (w *progressWorld) notify(t *testing.T, kind bot.NotificationKind, r bot.Request) {
	t.Helper()
	if err := w.notes.Notify(context.Background(), bot.Notification{Kind: kind, Request: w.book.apply(r)}); err != nil {
		t.Fatalf("Notify(%s, %s v%d): %v", kind, r.State, r.Version, err)
	}
}

// thread returns the request's message and the first two words of each
// line in its thread, after the emoji ("Queued: merge").
func (w *progressWorld) thread(t *testing.T, id string) (slacktest.Message, []string) {
	t.Helper()
	chanID, ts, _ := strings.Cut(w.book.apply(bot.Request{ID: id}).ExternalRefs[tgslack.RefSlackTS], ":")
	msg, ok := w.sl.Message(chanID, ts)
	if !ok {
		t.Fatalf("request %s has no message", id)
	}
	var lines []string
	for _, m := range w.sl.Thread(chanID, ts) {
		words := strings.Fields(m.Text)
		if len(words) < 3 {
			t.Fatalf("thread line %q is too short", m.Text)
		}
		lines = append(lines, words[1]+" "+words[2])
	}
	return msg, lines
}

// lifecycle returns one request in each state, versions rising as the
// store would number them.
func lifecycle() (queued, running, done bot.Request) {
	queued = bot.Request{ID: "r-order2", Repo: repo, Environment: "production", Ref: "main", SHA: mergeSHA,
		Trigger: bot.TriggerMerge, Requester: bot.Identity{Login: "carol"}, PR: &bot.PullRequest{Number: 7},
		State: bot.StateQueued, QueuedAt: startAt, CreatedAt: startAt, Version: 2}
	running = queued
	running.State, running.StateReason, running.StartedAt, running.Version = bot.StateRunning, "deploying", startAt, 4
	done = running
	done.State, done.StateReason, done.FinishedAt, done.Version = bot.StateSucceeded, "succeeded", startAt.Add(42*time.Second), 7
	done.Result = &bot.DeployOutcome{Result: bot.ResultSucceeded, Servers: []string{"web1"}, Duration: 42 * time.Second}
	return queued, running, done
}

// The approval path reports "queued" after its commit while a deploy
// worker may already have reported "running": the thread must still read
// Queued, Running, Deployed, once each, whatever order they arrive in.
func TestNotifierThreadFollowsTheLifecycleWhateverTheOrder(t *testing.T) {
	queued, running, done := lifecycle()
	q := func(w *progressWorld, t *testing.T) { w.notify(t, bot.NotifyStateChanged, queued) }
	ru := func(w *progressWorld, t *testing.T) { w.notify(t, bot.NotifyStateChanged, running) }
	fin := func(w *progressWorld, t *testing.T) { w.notify(t, bot.NotifyFinished, done) }
	want := []string{"Queued: merge", "Running: deploying", "Deployed `" + mergeSHA[:7] + "`"}
	tests := []struct {
		name  string
		steps []func(*progressWorld, *testing.T)
		want  []string
	}{
		{"in order", []func(*progressWorld, *testing.T){q, ru, fin}, want},
		{"in order, each redelivered", []func(*progressWorld, *testing.T){q, q, ru, ru, fin, fin}, want},
		{"running before queued", []func(*progressWorld, *testing.T){ru, q, fin}, want},
		{"finished first", []func(*progressWorld, *testing.T){fin, ru, q}, want},
		{"queued lost", []func(*progressWorld, *testing.T){ru, fin}, want},
		// After a restart the thread's lines are unknown: only new ones
		// are added, never a repeat of what may be there.
		{"restart while running", []func(*progressWorld, *testing.T){q, ru,
			func(w *progressWorld, t *testing.T) { w.restart(t) }, fin}, want},
		// Replicas share the database, not their memory: each notification
		// may be delivered by another one (a restart between every step).
		{"each step on another replica", []func(*progressWorld, *testing.T){q,
			func(w *progressWorld, t *testing.T) { w.restart(t) }, ru,
			func(w *progressWorld, t *testing.T) { w.restart(t) }, fin}, want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newProgressWorld(t)
			for _, step := range tt.steps {
				step(w, t)
			}
			msg, lines := w.thread(t, done.ID)
			if !slices.Equal(lines, tt.want) {
				t.Errorf("thread = %q, want %q", lines, tt.want)
			}
			if !strings.HasSuffix(msg.Text, "succeeded") {
				t.Errorf("message shows %q, want the succeeded request", msg.Text)
			}
		})
	}
}

// A late notification from the approval path does not turn the message of
// a running deploy back into a queued one.
func TestNotifierStaleApprovalLeavesTheMessageAlone(t *testing.T) {
	w := newProgressWorld(t)
	queued, running, _ := lifecycle()
	queued.Trigger, queued.RequiredApprovals = bot.TriggerSlack, 1
	queued.Approvals = []bot.Approval{{Approver: bot.Identity{Login: "bob"}, At: startAt, SHA: mergeSHA, ExpiresAt: startAt.Add(time.Hour)}}
	queued.StateReason = "approved by bob"
	waiting := queued
	waiting.State, waiting.StateReason, waiting.Approvals, waiting.Version = bot.StateAwaitingApproval, "", nil, 1
	running.Trigger, running.RequiredApprovals, running.Approvals = queued.Trigger, 1, queued.Approvals

	w.notify(t, bot.NotifyApprovalNeeded, waiting)
	w.notify(t, bot.NotifyStateChanged, running)
	w.notify(t, bot.NotifyApprovalGranted, queued) // the approver's path, late
	w.notify(t, bot.NotifyStateChanged, queued)

	msg, lines := w.thread(t, running.ID)
	if want := []string{"Queued: approved", "Running: deploying"}; !slices.Equal(lines, want) {
		t.Errorf("thread = %q, want %q", lines, want)
	}
	if !strings.HasSuffix(msg.Text, "running") {
		t.Errorf("message shows %q, want the running request", msg.Text)
	}
}

// Two replicas share the store, not their memory: replica A posts the
// message and its Queued line, B the Running line, and the last
// notification reaches A again. A must not post Running a second time
// from its stale memory, nor a second message.
func TestNotifierReplicasShareWhatTheThreadShows(t *testing.T) {
	w := newProgressWorld(t)
	a := w.notes
	w.restart(t)
	b := w.notes
	queued, running, done := lifecycle()
	w.notes = a
	w.notify(t, bot.NotifyStateChanged, queued)
	w.notes = b
	w.notify(t, bot.NotifyStateChanged, running)
	w.notes = a
	w.notify(t, bot.NotifyFinished, done)
	_, lines := w.thread(t, done.ID)
	if want := []string{"Queued: merge", "Running: deploying", "Deployed `" + mergeSHA[:7] + "`"}; !slices.Equal(lines, want) {
		t.Errorf("thread = %q, want %q", lines, want)
	}
	if n := len(w.sl.Messages(channel)); n != 1 {
		t.Errorf("%d messages in the channel, want one per request", n)
	}
}
