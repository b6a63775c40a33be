package slacktest

import (
	"net/http"
	"strconv"
	"time"
)

// methodFaults is what has been injected for one method.
type methodFaults struct {
	delay      time.Duration
	failErr    string
	failTimes  int
	rateLimits []time.Duration // one entry per upcoming 429
}

func (s *Server) faultsFor(method string) *methodFaults {
	f, ok := s.faults[method]
	if !ok {
		f = &methodFaults{}
		s.faults[method] = f
	}
	return f
}

// Delay makes every later call to method wait d before being answered (0 removes it).
// The wait ends early if the caller gives up or the server closes.
func (s *Server) Delay(method string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faultsFor(method).delay = d
}

// FailNext makes the next times calls to method answer {"ok":false,"error":slackError}.
func (s *Server) FailNext(method, slackError string, times int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faultsFor(method)
	f.failErr, f.failTimes = slackError, times
}

// RateLimitNext makes the next call to method answer HTTP 429 with a
// Retry-After header of retryAfter (whole seconds, rounded up), as Slack does.
// Calling it twice queues two 429s.
func (s *Server) RateLimitNext(method string, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.faultsFor(method)
	f.rateLimits = append(f.rateLimits, retryAfter)
}

// applyFaults waits any injected delay, then answers an injected rate limit or
// failure. It reports whether the request should go on to be served normally.
func (s *Server) applyFaults(w http.ResponseWriter, r *http.Request, call *Call) bool {
	s.mu.Lock()
	delay := s.faultsFor(call.Method).delay
	s.mu.Unlock()
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			call.Error = "request_canceled"
			s.record(*call)
			return false
		}
	}

	s.mu.Lock()
	f := s.faultsFor(call.Method)
	var (
		rateLimited bool
		retryAfter  time.Duration
		failErr     string
	)
	switch {
	case len(f.rateLimits) > 0:
		rateLimited, retryAfter = true, f.rateLimits[0]
		f.rateLimits = f.rateLimits[1:]
	case f.failTimes > 0:
		failErr = f.failErr
		f.failTimes--
	}
	s.mu.Unlock()

	switch {
	case rateLimited:
		secs := int64((retryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		call.Error = "ratelimited"
		s.finish(w, *call, http.StatusTooManyRequests, errorBody("ratelimited"))
		return false
	case failErr != "":
		call.Error = failErr
		s.finish(w, *call, http.StatusOK, errorBody(failErr))
		return false
	}
	return true
}
