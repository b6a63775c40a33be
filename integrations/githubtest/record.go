package githubtest

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Call is one request the fake received, as GitHub would have seen it.
type Call struct {
	Method string
	Path   string // without the /api/v3 prefix
	Query  url.Values
	Header http.Header
	Body   []byte
	Time   time.Time
	Status int  // status answered (0 if the client went away first)
	Routed bool // false when no route matched: an unexpected call
}

// recorder keeps every call in arrival order. Calls are held by pointer so
// a request still in flight after ResetCalls updates only its own record.
type recorder struct {
	mu    sync.Mutex
	calls []*Call
}

func (rc *recorder) begin(r *http.Request, body []byte, at time.Time) *Call {
	c := &Call{
		Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Header: r.Header.Clone(),
		Body: body, Time: at, Routed: true,
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls = append(rc.calls, c)
	return c
}

func (rc *recorder) finish(c *Call, status int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	c.Status = status
}

// unrouted marks the request's call as answered by no route.
func (rc *recorder) unrouted(r *http.Request) {
	c, ok := r.Context().Value(callKey{}).(*Call)
	if !ok {
		return
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	c.Routed = false
}

func (rc *recorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.calls)
}

// Calls returns every call received so far, oldest first.
func (s *Server) Calls() []Call {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	out := make([]Call, len(s.rec.calls))
	for i, c := range s.rec.calls {
		out[i] = *c
	}
	return out
}

// CallsMatching returns the calls with that method ("" for any) whose path
// starts with pathPrefix.
func (s *Server) CallsMatching(method, pathPrefix string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if (method == "" || strings.EqualFold(method, c.Method)) && strings.HasPrefix(c.Path, pathPrefix) {
			out = append(out, c)
		}
	}
	return out
}

// UnexpectedCalls returns the calls no route of the fake answered (they got
// 404 {"message":"Not Found"}), so a test can assert there were none.
func (s *Server) UnexpectedCalls() []Call {
	var out []Call
	for _, c := range s.Calls() {
		if !c.Routed {
			out = append(out, c)
		}
	}
	return out
}

// ResetCalls forgets the calls recorded so far (world state is kept).
func (s *Server) ResetCalls() {
	s.rec.mu.Lock()
	defer s.rec.mu.Unlock()
	s.rec.calls = nil
}
