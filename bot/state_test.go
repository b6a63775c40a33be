package bot_test

import (
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
)

func TestTransitions(t *testing.T) {
	tests := []struct {
		name     string
		from, to bot.State
		want     bool
	}{
		{"policy ok awaits approval", bot.StateRequested, bot.StateAwaitingApproval, true},
		{"no approvals needed queues directly", bot.StateRequested, bot.StateQueued, true},
		{"policy denied", bot.StateRequested, bot.StateRejected, true},
		{"approved", bot.StateAwaitingApproval, bot.StateQueued, true},
		{"approval rejected", bot.StateAwaitingApproval, bot.StateRejected, true},
		{"approval expired", bot.StateAwaitingApproval, bot.StateExpired, true},
		{"canceled while awaiting", bot.StateAwaitingApproval, bot.StateCanceled, true},
		{"canceled while queued", bot.StateQueued, bot.StateCanceled, true},
		{"worker starts", bot.StateQueued, bot.StateRunning, true},
		{"deploy succeeded", bot.StateRunning, bot.StateSucceeded, true},
		{"deploy failed", bot.StateRunning, bot.StateFailed, true},
		{"process died", bot.StateRunning, bot.StateInterrupted, true},
		{"automatic rollback", bot.StateFailed, bot.StateRolledBack, true},
		{"cannot skip approval", bot.StateAwaitingApproval, bot.StateRunning, false},
		{"cannot run a rejected request", bot.StateRejected, bot.StateQueued, false},
		{"cannot run twice", bot.StateSucceeded, bot.StateRunning, false},
		{"cannot cancel a running deploy", bot.StateRunning, bot.StateCanceled, false},
		{"cannot revive an expired request", bot.StateExpired, bot.StateAwaitingApproval, false},
		{"cannot requeue an interrupted deploy", bot.StateInterrupted, bot.StateQueued, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bot.CanTransition(tt.from, tt.to); got != tt.want {
				t.Errorf("CanTransition(%s, %s) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestTerminalStates(t *testing.T) {
	for _, s := range []bot.State{bot.StateSucceeded, bot.StateRolledBack, bot.StateInterrupted,
		bot.StateRejected, bot.StateExpired, bot.StateCanceled} {
		if !s.Terminal() {
			t.Errorf("%s should be terminal", s)
		}
	}
	for _, s := range []bot.State{bot.StateRequested, bot.StateAwaitingApproval, bot.StateQueued, bot.StateRunning, bot.StateFailed} {
		if s.Terminal() {
			t.Errorf("%s should not be terminal", s)
		}
	}
}

func TestRequestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := bot.NewRequestID()
		if len(id) != 8 || id[:2] != "r-" {
			t.Fatalf("id %q is not r- and 6 characters", id)
		}
		for _, c := range id[2:] {
			if c == '0' || c == 'o' || c == '1' || c == 'l' || c == 'i' {
				t.Fatalf("id %q has a character people confuse", id)
			}
		}
		seen[id] = true
	}
	if len(seen) < 990 {
		t.Fatalf("only %d distinct ids in 1000", len(seen))
	}
}

func TestSameIdentity(t *testing.T) {
	tests := []struct {
		name string
		a, b bot.Identity
		want bool
	}{
		{"same id, renamed login", bot.Identity{Login: "alice", GitHubID: 1}, bot.Identity{Login: "alice2", GitHubID: 1}, true},
		{"same login, different case", bot.Identity{Login: "Alice"}, bot.Identity{Login: "alice"}, true},
		{"different people", bot.Identity{Login: "alice", GitHubID: 1}, bot.Identity{Login: "bob", GitHubID: 2}, false},
		{"empty identities are nobody", bot.Identity{}, bot.Identity{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.Same(tt.b); got != tt.want {
				t.Errorf("Same = %v, want %v", got, tt.want)
			}
		})
	}
}
