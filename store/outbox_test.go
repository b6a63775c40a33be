package store

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// notesOf is Notes building one notification of kind k.
func notesOf(k bot.NotificationKind) bot.Notes {
	return func(r bot.Request) []bot.Notification {
		return []bot.Notification{{Kind: k, Request: r, Actor: bot.Identity{Login: "bob", GitHubID: 2}}}
	}
}

// A transition's notifications are written with it, in its transaction:
// a transition that is refused writes none, and what is read back is the
// notification as built, about the request as written.
func TestOutboxIsWrittenWithTheTransition(t *testing.T) {
	storetest.Run(t, testOutboxIsWrittenWithTheTransition)
}

func testOutboxIsWrittenWithTheTransition(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{Now: func() time.Time { return reqT0 }})
	r := sampleRequest("r-outbx1", "delivery-o1", "production", bot.StateAwaitingApproval)
	if _, _, err := s.CreateRequest(ctx, r, event("request.created", r.ID), notesOf(bot.NotifyApprovalNeeded)); err != nil {
		t.Fatal(err)
	}
	refused := errors.New("refused")
	if _, err := s.UpdateRequest(ctx, r.ID, func(*bot.Request) ([]bot.AuditEvent, error) { return nil, refused },
		notesOf(bot.NotifyStateChanged)); !errors.Is(err, refused) {
		t.Fatalf("refused change: %v", err)
	}
	updated, err := s.UpdateRequest(ctx, r.ID, func(cur *bot.Request) ([]bot.AuditEvent, error) {
		cur.State, cur.QueuedAt = bot.StateQueued, reqT0
		return event("request.state", cur.ID), nil
	}, notesOf(bot.NotifyStateChanged))
	if err != nil {
		t.Fatal(err)
	}
	due, err := s.DueOutbox(ctx, reqT0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(due) != 1 || due[0].Notification.Kind != bot.NotifyApprovalNeeded || !due[0].Notification.Durable {
		t.Fatalf("due = %+v, want the approval_needed notification only (the next waits for it)", due)
	}
	if err := s.FinishOutbox(ctx, due[0].Seq); err != nil {
		t.Fatal(err)
	}
	due, err = s.DueOutbox(ctx, reqT0, 10)
	if err != nil || len(due) != 1 {
		t.Fatalf("after the first: %+v, %v", due, err)
	}
	got := due[0].Notification
	if got.Kind != bot.NotifyStateChanged || got.Actor.Login != "bob" || got.Request.Version != updated.Version ||
		got.Request.State != bot.StateQueued || !reflect.DeepEqual(got.Request.Decision, updated.Decision) ||
		!reflect.DeepEqual(got.Request.PR, updated.PR) {
		t.Errorf("read back %+v\nwant the state_changed notification of %+v", got, updated)
	}
	if pending, failed, err := s.OutboxCounts(ctx); err != nil || pending != 1 || failed != 0 {
		t.Errorf("counts %d pending, %d failed, %v; want 1 pending", pending, failed, err)
	}
}

// Notifications go in order per request, independently across requests;
// a retry waits for its time, and a partial delivery is remembered.
func TestOutboxOrderRetriesAndDeliveries(t *testing.T) {
	storetest.Run(t, testOutboxOrderRetriesAndDeliveries)
}

func testOutboxOrderRetriesAndDeliveries(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{Now: func() time.Time { return reqT0 }})
	a := sampleRequest("r-outbxa", "delivery-oa", "production", bot.StateAwaitingApproval)
	b := sampleRequest("r-outbxb", "delivery-ob", "staging", bot.StateAwaitingApproval)
	for _, r := range []bot.Request{a, b} {
		if _, _, err := s.CreateRequest(ctx, r, event("request.created", r.ID), notesOf(bot.NotifyApprovalNeeded)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.UpdateRequest(ctx, a.ID, func(cur *bot.Request) ([]bot.AuditEvent, error) {
		cur.State = bot.StateRejected
		return event("request.rejected", cur.ID), nil
	}, notesOf(bot.NotifyStateChanged)); err != nil {
		t.Fatal(err)
	}
	due, err := s.DueOutbox(ctx, reqT0, 10)
	if err != nil || len(due) != 2 || due[0].RequestID != a.ID || due[1].RequestID != b.ID {
		t.Fatalf("due = %+v, %v; want the first of each request", due, err)
	}
	first := due[0]
	if err := s.MarkOutboxDelivered(ctx, first.Seq, "slack"); err != nil {
		t.Fatal(err)
	}
	if err := s.RetryOutbox(ctx, first.Seq, errors.New("github: 502"), reqT0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if due, _ = s.DueOutbox(ctx, reqT0, 10); len(due) != 1 || due[0].RequestID != b.ID {
		t.Fatalf("during a's retry wait: %+v; want only b's (a's next waits behind its retry)", due)
	}
	due, _ = s.DueOutbox(ctx, reqT0.Add(time.Minute), 10)
	if len(due) != 2 || due[0].Seq != first.Seq || due[0].Attempts != 1 || !due[0].Delivered["slack"] || due[0].Delivered["github"] {
		t.Fatalf("after the wait: %+v; want a's first again, delivered to slack only, 1 attempt", due)
	}
	if err := s.GiveUpOutbox(ctx, first.Seq, errors.New("github: 502")); err != nil {
		t.Fatal(err)
	}
	due, _ = s.DueOutbox(ctx, reqT0.Add(time.Minute), 10)
	if len(due) != 2 || due[1].RequestID != a.ID || due[1].Notification.Kind != bot.NotifyStateChanged {
		t.Fatalf("after giving up a's first: %+v; want b's first and a's next, by seq", due)
	}
	if _, failed, _ := s.OutboxCounts(ctx); failed != 1 {
		t.Errorf("%d given up, want 1", failed)
	}
}
