package store

import (
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
)

// queryPlan returns SQLite's plan for q, one step per element.
func queryPlan(t *testing.T, s *Store, q string, args ...any) string {
	t.Helper()
	rows, err := s.DB().QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}

// What /environments, /deploy status and the sweeps ask for is read
// through an index that holds what is open (or the latest of a state),
// never by walking an environment's whole history or sorting every
// finished request: their cost follows what is active.
func TestOpenRequestsAreReadThroughAnIndex(t *testing.T) {
	s, _ := openTemp(t, Options{})
	active := []bot.State{bot.StateRequested, bot.StateAwaitingApproval, bot.StateQueued, bot.StateRunning}
	tests := []struct {
		name   string
		filter bot.RequestFilter
		index  string
	}{
		{"/environments and /deploy status: what is pending on an environment",
			bot.RequestFilter{Repo: "acme/shop", Environment: "production", States: active, Limit: 1000}, "requests_active"},
		{"the same states in another order",
			bot.RequestFilter{Repo: "acme/shop", Environment: "production", States: []bot.State{bot.StateRunning, bot.StateQueued, bot.StateAwaitingApproval, bot.StateRequested}, Limit: 1000}, "requests_active"},
		{"what runs on an environment (the last success)",
			bot.RequestFilter{Repo: "acme/shop", Environment: "production", States: []bot.State{bot.StateSucceeded}, Limit: 1}, "requests_env_state"},
		{"the sweep of succeeded emergency changes",
			bot.RequestFilter{States: []bot.State{bot.StateSucceeded}, Trigger: bot.TriggerEmergency, Limit: 1000}, "requests_state_trigger"},
		{"an environment's history, newest first",
			bot.RequestFilter{Repo: "acme/shop", Environment: "production", Limit: 10}, "requests_env"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, args, err := listQuery(tt.filter)
			if err != nil {
				t.Fatal(err)
			}
			plan := queryPlan(t, s, q, args...)
			if !strings.Contains(plan, "USING INDEX "+tt.index+" ") || strings.Contains(plan, "TEMP B-TREE") {
				t.Fatalf("plan %q: want a search of %s and no sort", plan, tt.index)
			}
		})
	}
	if _, _, err := listQuery(bot.RequestFilter{States: []bot.State{"'; DROP TABLE requests; --"}}); err == nil {
		t.Fatal("an unknown state reached the SQL")
	}
}

func TestListRequestsByTrigger(t *testing.T) {
	s, _ := openTemp(t, Options{})
	ctx := context.Background()
	for i, trigger := range []bot.Trigger{bot.TriggerEmergency, bot.TriggerSlack, bot.TriggerEmergency} {
		r := bot.Request{ID: "r-" + string(rune('a'+i)), SourceKey: "k" + string(rune('a'+i)), Repo: "acme/shop",
			Environment: "production", Trigger: trigger, State: bot.StateSucceeded, Requester: bot.Identity{Login: "alice", GitHubID: 1},
			ApprovalNonce: "n"}
		if _, _, err := s.CreateRequest(ctx, r, nil); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := s.ListRequests(ctx, bot.RequestFilter{States: []bot.State{bot.StateSucceeded}, Trigger: bot.TriggerEmergency})
	if err != nil || len(rs) != 2 || rs[0].Trigger != bot.TriggerEmergency || rs[1].Trigger != bot.TriggerEmergency {
		t.Fatalf("emergency changes: %d, %v", len(rs), err)
	}
}
