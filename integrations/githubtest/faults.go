package githubtest

import (
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fault is an injected failure answered instead of the real response.
type fault struct {
	method  string
	pattern string
	status  int
	times   int
	kind    string // "status", "ratelimit" or "secondary"
	wait    time.Duration
}

type delayRule struct {
	pattern string
	d       time.Duration
}

// faults holds injected failures and delays.
type faults struct {
	mu     sync.Mutex
	queue  []*fault
	delays []delayRule
}

// matchPath matches a request path against a pattern in path.Match syntax,
// where "*" stands for one path segment ("/repos/*/*/deployments/*/statuses").
// A pattern ending in "/**" also matches everything below its prefix.
func matchPath(pattern, p string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/**"); ok {
		want, got := strings.Split(prefix, "/"), strings.Split(p, "/")
		if len(got) < len(want) {
			return false
		}
		for i, w := range want {
			if ok, _ := path.Match(w, got[i]); !ok {
				return false
			}
		}
		return true
	}
	ok, _ := path.Match(pattern, p)
	return ok
}

func (f *faults) take(r *http.Request) (fault, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, q := range f.queue {
		if (q.method == "" || strings.EqualFold(q.method, r.Method)) && matchPath(q.pattern, r.URL.Path) {
			q.times--
			if q.times <= 0 {
				f.queue = append(f.queue[:i], f.queue[i+1:]...)
			}
			return *q, true
		}
	}
	return fault{}, false
}

func (f *faults) delayFor(r *http.Request) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	var d time.Duration
	for _, rule := range f.delays {
		if matchPath(rule.pattern, r.URL.Path) && rule.d > d {
			d = rule.d
		}
	}
	return d
}

func (f *faults) add(q *fault) {
	if q.times <= 0 {
		q.times = 1
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue = append(f.queue, q)
}

// FailNext makes the next `times` requests matching method ("" for any) and
// pathPattern (see matchPath: "/repos/*/*/deployments", "/app/**") answer
// with status and GitHub's error body; later requests are served normally.
func (s *Server) FailNext(method, pathPattern string, status, times int) {
	s.flt.add(&fault{method: method, pattern: pathPattern, status: status, times: times, kind: "status"})
}

// RateLimitNext makes the next `times` matching requests answer 403 with
// X-RateLimit-Remaining: 0 and X-RateLimit-Reset = now+resetIn (primary
// rate limit, go-github's *RateLimitError).
func (s *Server) RateLimitNext(method, pathPattern string, resetIn time.Duration, times int) {
	s.flt.add(&fault{method: method, pattern: pathPattern, status: http.StatusForbidden, times: times, kind: "ratelimit", wait: resetIn})
}

// SecondaryRateLimitNext makes the next `times` matching requests answer
// status (403 or 429) with Retry-After in whole seconds and GitHub's
// secondary-rate-limit body (403 gives go-github's *AbuseRateLimitError).
func (s *Server) SecondaryRateLimitNext(method, pathPattern string, status int, retryAfter time.Duration, times int) {
	s.flt.add(&fault{method: method, pattern: pathPattern, status: status, times: times, kind: "secondary", wait: retryAfter})
}

// Delay holds every request matching pathPattern for d before answering
// (a slow GitHub); d <= 0 removes the rule. Requests whose client gives up
// are dropped.
func (s *Server) Delay(pathPattern string, d time.Duration) {
	s.flt.mu.Lock()
	defer s.flt.mu.Unlock()
	rules := s.flt.delays[:0]
	for _, r := range s.flt.delays {
		if r.pattern != pathPattern {
			rules = append(rules, r)
		}
	}
	if d > 0 {
		rules = append(rules, delayRule{pattern: pathPattern, d: d})
	}
	s.flt.delays = rules
}

// ClearFaults removes pending injected failures and delays.
func (s *Server) ClearFaults() {
	s.flt.mu.Lock()
	defer s.flt.mu.Unlock()
	s.flt.queue = nil
	s.flt.delays = nil
}

// writeFault answers an injected failure the way GitHub does.
func (s *Server) writeFault(w http.ResponseWriter, _ *http.Request, f fault) {
	now := s.clock()
	switch f.kind {
	case "ratelimit":
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Used", "5000")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(f.wait).Unix(), 10))
		writeJSON(w, f.status, map[string]any{
			"message":           "API rate limit exceeded for installation.",
			"documentation_url": "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting",
		})
	case "secondary":
		secs := int((f.wait + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeJSON(w, f.status, map[string]any{
			"message":           "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
			"documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
		})
	default:
		msg := http.StatusText(f.status)
		if f.status >= 500 {
			msg = "Server Error"
		}
		writeJSON(w, f.status, map[string]any{"message": msg, "documentation_url": docsURL})
	}
}
