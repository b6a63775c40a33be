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

var reqT0 = time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)

func sampleRequest(id, key, env string, state bot.State) bot.Request {
	return bot.Request{
		ID: id, SourceKey: key, Repo: "acme/shop", Environment: env, Ref: "main",
		SHA: "1111111111111111111111111111111111111111", Trigger: bot.TriggerMerge, State: state,
		Requester: bot.Identity{Login: "alice", GitHubID: 1, ChatUser: "T1/U1"},
		PR: &bot.PullRequest{Number: 7, Author: bot.Identity{Login: "bob", GitHubID: 2}, Merged: true,
			Reviews: []bot.Review{{User: bot.Identity{Login: "carol", GitHubID: 3}, State: bot.ReviewApproved,
				CommitID: "2222222", SubmittedAt: reqT0.Add(-time.Hour)}}},
		Reason: "ship", Ticket: "OPS-1", ConfigHash: "cfg1", RequiredApprovals: 1, ApprovalNonce: "n0nce",
		ApprovalDeadline: reqT0.Add(time.Hour), ProtectionRule: &bot.ProtectionRuleRun{RunID: 9, EnvironmentName: env},
		ExternalRefs: map[string]string{"slack.ts": "123.456"},
		Decision:     &bot.Decision{Allowed: true, ConfigHash: "cfg1", At: reqT0, Checks: []bot.PolicyCheck{{Name: "lock", Outcome: bot.OutcomePass}}},
		CreatedAt:    reqT0, UpdatedAt: reqT0, QueuedAt: reqT0,
	}
}

func event(action, subject string) []bot.AuditEvent {
	return []bot.AuditEvent{{Actor: "tollgate", Action: action, Subject: subject, Data: map[string]any{"x": 1}}}
}

func TestCreateRequestRoundTripAndIdempotency(t *testing.T) {
	storetest.Run(t, testCreateRequestRoundTripAndIdempotency)
}

func testCreateRequestRoundTripAndIdempotency(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	want := sampleRequest("r-aaaaaa", "delivery-1", "production", bot.StateAwaitingApproval)
	got, created, err := s.CreateRequest(ctx, want, event("request.created", want.ID))
	if err != nil || !created {
		t.Fatalf("create: %v, created %v", err, created)
	}
	want.Version = 1
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stored request differs:\n got %+v\nwant %+v", got, want)
	}
	dup := sampleRequest("r-bbbbbb", "delivery-1", "production", bot.StateAwaitingApproval)
	got, created, err = s.CreateRequest(ctx, dup, event("request.created", dup.ID))
	if err != nil || created || got.ID != want.ID {
		t.Fatalf("second create with the same source key: %s created=%v err=%v", got.ID, created, err)
	}
	if n, _ := s.Audit().Size(ctx); n != 1 {
		t.Fatalf("audit has %d entries, want 1 (the duplicate writes nothing)", n)
	}
	_, _, err = s.CreateRequest(ctx, sampleRequest("r-aaaaaa", "delivery-2", "production", bot.StateQueued), nil)
	if !errors.Is(err, bot.ErrConflict) {
		t.Fatalf("id collision: %v, want ErrConflict", err)
	}
	if _, err := s.Request(ctx, "r-zzzzzz"); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("missing request: %v", err)
	}
	if r, err := s.RequestBySource(ctx, "delivery-1"); err != nil || r.ID != want.ID {
		t.Fatalf("by source: %s, %v", r.ID, err)
	}
}

func TestUpdateRequest(t *testing.T) { storetest.Run(t, testUpdateRequest) }

func testUpdateRequest(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		change  func(r *bot.Request) ([]bot.AuditEvent, error)
		wantErr func(error) bool
		state   bot.State
	}{
		{name: "a legal transition with its audit event", state: bot.StateQueued,
			change: func(r *bot.Request) ([]bot.AuditEvent, error) {
				r.State = bot.StateQueued
				return event("request.state", r.ID), nil
			}},
		{name: "an illegal transition", state: bot.StateAwaitingApproval,
			wantErr: func(err error) bool { return err != nil },
			change: func(r *bot.Request) ([]bot.AuditEvent, error) {
				r.State = bot.StateRunning
				return event("request.state", r.ID), nil
			}},
		{name: "the domain's refusal comes back unwrapped", state: bot.StateAwaitingApproval,
			wantErr: func(err error) bool { _, ok := bot.AsRefusal(err); return ok },
			change: func(r *bot.Request) ([]bot.AuditEvent, error) {
				r.State = bot.StateQueued
				return nil, &bot.Refusal{Code: bot.CodeSelfApproval, Reason: "no"}
			}},
		{name: "no audit, no transition", state: bot.StateAwaitingApproval,
			wantErr: func(err error) bool { return err != nil },
			change: func(r *bot.Request) ([]bot.AuditEvent, error) {
				r.State = bot.StateQueued
				return []bot.AuditEvent{{Action: "request.state"}}, nil // no actor: the append fails
			}},
		{name: "rewriting an approval", state: bot.StateAwaitingApproval,
			wantErr: func(err error) bool { return err != nil },
			change: func(r *bot.Request) ([]bot.AuditEvent, error) {
				r.Approvals[0].Approver.Login = "mallory"
				r.Approvals[0].Approver.GitHubID = 66
				return nil, nil
			}},
		{name: "removing an approval", state: bot.StateAwaitingApproval,
			wantErr: func(err error) bool { return err != nil },
			change: func(r *bot.Request) ([]bot.AuditEvent, error) {
				r.Approvals = nil
				return nil, nil
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTemp(t, Options{})
			r := sampleRequest("r-aaaaaa", "k", "production", bot.StateAwaitingApproval)
			r.Approvals = []bot.Approval{{Approver: bot.Identity{Login: "dave", GitHubID: 4}, At: reqT0, SHA: r.SHA,
				ConfigHash: "cfg1", ExpiresAt: reqT0.Add(time.Hour)}}
			if _, _, err := s.CreateRequest(ctx, r, nil); err != nil {
				t.Fatal(err)
			}
			_, err := s.UpdateRequest(ctx, r.ID, tt.change)
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !tt.wantErr(err) {
				t.Fatalf("UpdateRequest: %v", err)
			}
			got, _ := s.Request(ctx, r.ID)
			if got.State != tt.state || len(got.Approvals) != 1 || got.Approvals[0].Approver.Login != "dave" {
				t.Fatalf("stored: %s %+v", got.State, got.Approvals)
			}
			size, _ := s.Audit().Size(ctx)
			if wantSize := int64(map[bool]int{true: 1, false: 0}[tt.wantErr == nil]); size != wantSize {
				t.Fatalf("audit size %d, want %d", size, wantSize)
			}
		})
	}
}

func TestApprovalsAppendAndRevoke(t *testing.T) { storetest.Run(t, testApprovalsAppendAndRevoke) }

func testApprovalsAppendAndRevoke(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	r := sampleRequest("r-aaaaaa", "k", "production", bot.StateAwaitingApproval)
	if _, _, err := s.CreateRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"carol", "dave"} {
		_, err := s.UpdateRequest(ctx, r.ID, func(cur *bot.Request) ([]bot.AuditEvent, error) {
			cur.Approvals = append(cur.Approvals, bot.Approval{Approver: bot.Identity{Login: who, GitHubID: int64(len(who))},
				At: reqT0, SHA: cur.SHA, ConfigHash: cur.ConfigHash, ExpiresAt: reqT0.Add(time.Hour)})
			return event("approval.granted", cur.ID), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	revokedAt := reqT0.Add(time.Minute)
	got, err := s.UpdateRequest(ctx, r.ID, func(cur *bot.Request) ([]bot.AuditEvent, error) {
		cur.Approvals[1].RevokedAt = revokedAt
		return event("approval.revoked", cur.ID), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Approvals) != 2 || !got.Approvals[0].RevokedAt.IsZero() || !got.Approvals[1].RevokedAt.Equal(revokedAt) {
		t.Fatalf("approvals: %+v", got.Approvals)
	}
	if got.Version != 4 {
		t.Fatalf("version %d after three updates, want 4", got.Version)
	}
}

func TestOneRunningDeployPerEnvironment(t *testing.T) {
	storetest.Run(t, testOneRunningDeployPerEnvironment)
}

func testOneRunningDeployPerEnvironment(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	for i, id := range []string{"r-aaaaaa", "r-bbbbbb", "r-cccccc"} {
		env := "production"
		if i == 2 {
			env = "staging"
		}
		r := sampleRequest(id, id, env, bot.StateQueued)
		r.QueuedAt = reqT0.Add(time.Duration(i) * time.Second)
		if _, _, err := s.CreateRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	start := func(cur *bot.Request) ([]bot.AuditEvent, error) {
		cur.State = bot.StateRunning
		return event("deploy.started", cur.ID), nil
	}
	next, err := s.NextRunnable(ctx)
	if err != nil || next.ID != "r-aaaaaa" {
		t.Fatalf("next runnable: %s, %v; want the oldest queued", next.ID, err)
	}
	if _, err := s.UpdateRequest(ctx, "r-aaaaaa", start); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateRequest(ctx, "r-bbbbbb", start); !errors.Is(err, bot.ErrConflict) {
		t.Fatalf("second running deploy on production: %v, want ErrConflict", err)
	}
	next, err = s.NextRunnable(ctx)
	if err != nil || next.ID != "r-cccccc" {
		t.Fatalf("next runnable while production runs: %s, %v; want staging's", next.ID, err)
	}
	if _, err := s.UpdateRequest(ctx, "r-cccccc", start); err != nil {
		t.Fatalf("staging runs beside production: %v", err)
	}
	if _, err := s.NextRunnable(ctx); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("nothing runnable: %v", err)
	}
	running, err := s.ListRequests(ctx, bot.RequestFilter{States: []bot.State{bot.StateRunning}})
	if err != nil || len(running) != 2 {
		t.Fatalf("running: %d, %v", len(running), err)
	}
}
