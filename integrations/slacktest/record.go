package slacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"
)

// Call is one request the fake received, as Slack would have seen it.
type Call struct {
	// Method is the Web API method ("chat.postMessage") or MethodResponseURL.
	Method string
	// Params holds form or query parameters, without the token.
	Params url.Values
	// JSON is the request body when it was sent as JSON.
	JSON json.RawMessage
	// At is when the fake received the call (its clock).
	At time.Time
	// Status is the HTTP status answered.
	Status int
	// Error is the Slack error answered ("invalid_auth", "ratelimited"), or "" on success.
	Error string
}

// OK reports whether the call was answered successfully.
func (c Call) OK() bool { return c.Error == "" }

func (s *Server) record(call Call) {
	s.mu.Lock()
	defer s.mu.Unlock()
	call.At = s.opts.Now()
	s.calls = append(s.calls, call)
	close(s.changed)
	s.changed = make(chan struct{})
}

// Calls returns every call received so far, in arrival order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// CallsTo returns the calls to one method, in arrival order.
func (s *Server) CallsTo(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.callsToLocked(method)
}

func (s *Server) callsToLocked(method string) []Call {
	var out []Call
	for _, c := range s.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// WaitForCalls blocks until at least n calls to method have been answered and
// returns them, or returns ctx's error naming how many arrived. Tollgate does
// its Slack work after acknowledging a request, so tests wait rather than sleep.
func (s *Server) WaitForCalls(ctx context.Context, method string, n int) ([]Call, error) {
	for {
		s.mu.Lock()
		calls := s.callsToLocked(method)
		changed := s.changed
		s.mu.Unlock()
		if len(calls) >= n {
			return calls, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return calls, fmt.Errorf("waiting for %d calls to %s, got %d: %w", n, method, len(calls), ctx.Err())
		}
	}
}
