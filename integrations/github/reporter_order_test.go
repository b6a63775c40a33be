package github

import (
	"slices"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// The approval path reports "queued" after its commit while a deploy
// worker may already have reported "running": GitHub must still show the
// lifecycle in order, once each, whatever order the notifications arrive in.
func TestReporterStatusesFollowTheLifecycleWhateverTheOrder(t *testing.T) {
	base := goldenRequest()
	base.PR = nil
	queued := at(base, bot.StateQueued)
	queued.StateReason, queued.Result, queued.FinishedAt, queued.StartedAt, queued.Version = "approved by bob, carol", nil, time.Time{}, time.Time{}, 3
	running := at(queued, bot.StateRunning)
	running.StateReason, running.StartedAt, running.Version = "deploying", goldenTime.Add(-time.Minute), 4
	done := base
	done.Version = 6
	type note struct {
		kind bot.NotificationKind
		r    bot.Request
	}
	q, ru, fin := note{bot.NotifyStateChanged, queued}, note{bot.NotifyStateChanged, running}, note{bot.NotifyFinished, done}
	tests := []struct {
		name  string
		notes []note
	}{
		{"in order", []note{q, ru, fin}},
		{"in order, each redelivered", []note{q, q, ru, ru, fin, fin}},
		{"running before queued", []note{ru, q, fin}},
		{"finished first", []note{fin, ru, q}},
		{"only the end", []note{fin}},
		{"running and the end, queued lost", []note{ru, fin}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newReporterWorld(t)
			for _, n := range tt.notes {
				w.notify(t, n.kind, w.bot.apply(n.r))
			}
			ds := w.gh.Deployments("acme/web")
			if len(ds) != 1 {
				t.Fatalf("deployments = %d, want 1", len(ds))
			}
			if got, want := w.gh.DeploymentStatuses("acme/web", ds[0].ID), []string{"queued", "in_progress", "success"}; !slices.Equal(got, want) {
				t.Errorf("statuses = %v, want %v", got, want)
			}
		})
	}
}

// A stale notification does not roll the PR comment back to an earlier
// state either.
func TestReporterStaleNotificationLeavesTheCommentAlone(t *testing.T) {
	w := newReporterWorld(t)
	r := goldenRequest()
	waiting := at(r, bot.StateAwaitingApproval)
	waiting.Result, waiting.FinishedAt, waiting.StartedAt, waiting.QueuedAt, waiting.Version = nil, time.Time{}, time.Time{}, time.Time{}, 1
	queued := at(waiting, bot.StateQueued)
	queued.StateReason, queued.QueuedAt, queued.Version = "approved by bob, carol", goldenTime.Add(-10*time.Minute), 3
	running := at(queued, bot.StateRunning)
	running.StateReason, running.StartedAt, running.Version = "deploying", goldenTime.Add(-time.Minute), 4

	w.notify(t, bot.NotifyApprovalNeeded, waiting)
	w.notify(t, bot.NotifyStateChanged, w.bot.apply(running))
	w.notify(t, bot.NotifyApprovalGranted, w.bot.apply(queued)) // the approver's path, late
	w.notify(t, bot.NotifyStateChanged, w.bot.apply(queued))

	cs := w.gh.IssueComments("acme/web", w.pr)
	if len(cs) != 1 {
		t.Fatalf("PR comments = %d, want 1", len(cs))
	}
	if want := renderComment(w.bot.apply(running), "https://tollgate.example.test/deployments/"+r.ID, nil, nil); cs[0].Body != want {
		t.Errorf("comment after a stale notification:\n%s\nwant the running one:\n%s", cs[0].Body, want)
	}
}
