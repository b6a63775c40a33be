package bot

import "fmt"

// State is where a request is in its lifecycle (DESIGN.md):
//
//	requested ──policy ok──▶ awaiting_approval ──approved×N──▶ queued ──▶ running ──▶ succeeded
//	    │                        │          ▲                    │           ├──▶ failed ──▶ rolled_back
//	    └──policy denied──▶ rejected └─rejected/expired/canceled  ├─canceled  └──▶ interrupted
//	                                        └───── recheck at start ┤
//	                                                                └─rejected
//
// With required approvals of 0 (and for emergency changes, which skip
// approvals) requested goes straight to queued: there is nothing to await.
type State string

// Request states.
const (
	StateRequested        State = "requested"
	StateAwaitingApproval State = "awaiting_approval"
	StateQueued           State = "queued"
	StateRunning          State = "running"
	StateSucceeded        State = "succeeded"
	StateFailed           State = "failed"
	StateRolledBack       State = "rolled_back"
	StateInterrupted      State = "interrupted"
	StateRejected         State = "rejected"
	StateExpired          State = "expired"
	StateCanceled         State = "canceled"
)

// transitions lists every allowed edge; anything else is a bug or a race
// the CAS in the store catches.
var transitions = map[State][]State{
	StateRequested:        {StateAwaitingApproval, StateQueued, StateRejected},
	StateAwaitingApproval: {StateQueued, StateRejected, StateExpired, StateCanceled},
	// The recheck at start sends a queued request back to awaiting
	// approval, or rejects it, when its policy no longer holds (recheck.go).
	StateQueued:  {StateRunning, StateCanceled, StateAwaitingApproval, StateRejected},
	StateRunning: {StateSucceeded, StateFailed, StateRolledBack, StateInterrupted},
	StateFailed:  {StateRolledBack},
}

// CanTransition reports whether from → to is an edge of the lifecycle.
func CanTransition(from, to State) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Terminal reports whether no transition leaves s.
func (s State) Terminal() bool { return len(transitions[s]) == 0 }

// Pending reports whether the request has not started deploying yet and
// could still be canceled.
func (s State) Pending() bool {
	return s == StateRequested || s == StateAwaitingApproval || s == StateQueued
}

// transition moves r to state to, or returns an error naming the illegal
// edge. It is the only place that changes Request.State.
func (r *Request) transition(to State, reason string) error {
	if !CanTransition(r.State, to) {
		return fmt.Errorf("request %s: illegal transition %s → %s", r.ID, r.State, to)
	}
	r.State = to
	r.StateReason = reason
	return nil
}
