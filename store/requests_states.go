package store

import (
	"fmt"
	"strings"

	"github.com/tollgate-dev/tollgate/bot"
)

// schemaStates are the request states in the order of the requests
// table's CHECK constraint.
var schemaStates = []bot.State{bot.StateRequested, bot.StateAwaitingApproval, bot.StateQueued, bot.StateRunning,
	bot.StateSucceeded, bot.StateFailed, bot.StateRolledBack, bot.StateInterrupted, bot.StateRejected,
	bot.StateExpired, bot.StateCanceled}

// stateList writes states as an SQL list of literals in schema order:
// 'requested', 'awaiting_approval', 'queued', 'running' for the states not
// finished is then the text of the partial index requests_active, which a
// planner uses only for a literal list (migration 0061). Only known states
// are written, so nothing else reaches the SQL.
func stateList(states []bot.State) (string, error) {
	want := map[bot.State]bool{}
	for _, st := range states {
		want[st] = true
	}
	var out []string
	for _, st := range schemaStates {
		if want[st] {
			out = append(out, "'"+string(st)+"'")
			delete(want, st)
		}
	}
	for st := range want {
		return "", fmt.Errorf("list requests: unknown state %q", st)
	}
	return strings.Join(out, ", "), nil
}
