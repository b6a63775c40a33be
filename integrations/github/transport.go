package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/tollgate-dev/tollgate/internal/backoff"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// RetryPolicy says how the transport under go-github waits out rate limits
// and retries failures.
//
// What is retried, and why:
//   - A rate-limit answer (403/429 with Retry-After, or with
//     X-RateLimit-Remaining: 0 and X-RateLimit-Reset) is waited out and
//     retried for every method, POST included: GitHub refused the request
//     before acting on it.
//   - 502, 503 and 504, and network errors after the request may have been
//     sent, are retried with exponential backoff and jitter only for
//     requests that are safe to repeat: GET, HEAD, OPTIONS, PUT, DELETE,
//     PATCH (GitHub's PATCH endpoints set fields to given values), and the
//     few POSTs whose repetition GitHub makes harmless (installation
//     tokens, adding labels, adding a reaction).
//   - Every other POST is not repeated after it may have reached GitHub: a
//     502 on POST /deployments may still have created the deployment, and a
//     blind retry would create a second one (or a second comment, a second
//     protection-rule answer). Such a POST is retried only when the
//     connection could not be opened at all. The Reporter makes deployment
//     creation safe at a higher level instead: before creating, it looks
//     for a deployment already carrying the request id.
type RetryPolicy struct {
	MaxAttempts int           // tries per request, the first included (default 4)
	BaseDelay   time.Duration // first backoff (default 500 ms), doubled per retry
	MaxDelay    time.Duration // longest backoff (default 15 s)
	// MaxWait is the longest rate-limit wait; a longer one (or one past the
	// context's deadline) is not waited for and reaches the caller as
	// go-github's rate-limit error (default 5 min).
	MaxWait time.Duration
	// Sleep waits d or until ctx ends (default: a timer). Tests inject one
	// that records the waits.
	Sleep func(ctx context.Context, d time.Duration) error
}

// DefaultRetryPolicy is the policy a zero RetryPolicy stands for.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 4, BaseDelay: 500 * time.Millisecond, MaxDelay: 15 * time.Second, MaxWait: 5 * time.Minute}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy
	if p.MaxAttempts > 0 {
		d.MaxAttempts = p.MaxAttempts
	}
	if p.BaseDelay > 0 {
		d.BaseDelay = p.BaseDelay
	}
	if p.MaxDelay > 0 {
		d.MaxDelay = p.MaxDelay
	}
	if p.MaxWait > 0 {
		d.MaxWait = p.MaxWait
	}
	d.Sleep = p.Sleep
	if d.Sleep == nil {
		d.Sleep = sleepCtx
	}
	return d
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// maxReplayBody bounds a request body buffered so it can be sent again.
const maxReplayBody = 25 << 20

// retryTransport is the http.RoundTripper under ghinstallation and
// go-github. One exists per installation (and one for the app JWT), since
// rate-limit budgets are per installation.
type retryTransport struct {
	next   http.RoundTripper
	policy RetryPolicy
	now    func() time.Time
	log    *slog.Logger

	mu          sync.Mutex
	exhaustedTo time.Time // budget used up until then (a 2xx said remaining 0)
}

// RoundTrip sends req, waiting out rate limits and retrying as the policy says.
func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := req.Context()
	if err := t.waitForBudget(ctx, req); err != nil {
		closeBody(req)
		return nil, err
	}
	getBody, buffered, err := replayable(req)
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		try := req
		if attempt > 1 || buffered {
			try = req.Clone(ctx)
			if getBody != nil {
				if try.Body, err = getBody(); err != nil {
					return nil, fmt.Errorf("%s %s: replaying the request body: %w", req.Method, req.URL.Path, err)
				}
			}
		}
		resp, err := t.next.RoundTrip(try)
		wait, why, retry := t.decide(req, resp, err, attempt)
		if !retry {
			t.observe(resp)
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			_ = resp.Body.Close()
		}
		t.log.WarnContext(ctx, "github: retrying", slog.String("method", req.Method),
			slog.String("path", req.URL.Path), slog.Int("attempt", attempt), slog.String("why", why),
			slog.Duration("wait", wait))
		if err := t.policy.Sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s %s: waiting %s to retry (%s): %w", req.Method, req.URL.Path, wait, why, err)
		}
	}
}

// replayable returns a function giving a fresh copy of req's body. When
// the request cannot produce one itself the body is buffered (buffered is
// true) and every attempt, the first included, sends a copy.
func replayable(req *http.Request) (get func() (io.ReadCloser, error), buffered bool, err error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, false, nil
	}
	if req.GetBody != nil {
		return req.GetBody, false, nil
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, maxReplayBody+1))
	_ = req.Body.Close()
	if err != nil {
		return nil, false, fmt.Errorf("%s %s: reading the request body: %w", req.Method, req.URL.Path, err)
	}
	if len(b) > maxReplayBody {
		return nil, false, fmt.Errorf("%s %s: request body over %d bytes", req.Method, req.URL.Path, maxReplayBody)
	}
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, true, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
}

// decide says whether to retry after attempt, and after how long.
func (t *retryTransport) decide(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, string, bool) {
	if attempt >= t.policy.MaxAttempts || req.Context().Err() != nil {
		return 0, "", false
	}
	if err != nil {
		if safeToRepeat(req) || notSent(err) {
			return t.backoff(attempt), "network error: " + err.Error(), true
		}
		return 0, "", false
	}
	switch resp.StatusCode {
	case http.StatusForbidden, http.StatusTooManyRequests:
		wait, ok := t.rateLimitWait(resp)
		if !ok || !t.canWait(req.Context(), wait) {
			return 0, "", false
		}
		return wait, fmt.Sprintf("rate limited (%d)", resp.StatusCode), true
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		if !safeToRepeat(req) {
			return 0, "", false
		}
		wait := t.backoff(attempt)
		if ra, ok := retryAfter(resp, t.now()); ok && ra > wait {
			wait = ra
		}
		if !t.canWait(req.Context(), wait) {
			return 0, "", false
		}
		return wait, resp.Status, true
	}
	return 0, "", false
}

// canWait reports whether waiting d is within MaxWait and ctx's deadline:
// sleeping only to find the context gone helps no one.
func (t *retryTransport) canWait(ctx context.Context, d time.Duration) bool {
	if d > t.policy.MaxWait {
		return false
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		return false
	}
	return true
}

// backoff is BaseDelay·2^(attempt-1), capped at MaxDelay, with jitter in
// [d/2, d] so clients that failed together do not retry together.
func (t *retryTransport) backoff(attempt int) time.Duration {
	return backoff.Jittered(backoff.Exponential(t.policy.BaseDelay, t.policy.MaxDelay))(attempt)
}

// rateLimitWait reads how long a 403/429 asks to wait: Retry-After
// (secondary limits), else X-RateLimit-Reset when the budget is used up
// (primary limit). A 403 with neither is a permission error, not retried.
func (t *retryTransport) rateLimitWait(resp *http.Response) (time.Duration, bool) {
	if d, ok := retryAfter(resp, t.now()); ok {
		return d, true
	}
	if resp.Header.Get("X-RateLimit-Remaining") != "0" {
		return 0, false
	}
	reset, ok := resetAt(resp, t.now())
	if !ok {
		return 0, false
	}
	return max(reset.Sub(t.now()), time.Second), true
}

// retryAfter parses Retry-After (seconds or an HTTP date).
func retryAfter(resp *http.Response, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return max(time.Duration(secs)*time.Second, time.Second), true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), time.Second), true
	}
	return 0, false
}

// resetAt converts X-RateLimit-Reset to our clock. The reset is on
// GitHub's clock; measuring it from the response's Date keeps a skewed
// local clock from waiting too little or too long. One second is added
// because both are truncated to seconds.
func resetAt(resp *http.Response, now time.Time) (time.Time, bool) {
	secs, err := strconv.ParseInt(resp.Header.Get("X-RateLimit-Reset"), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	reset := time.Unix(secs, 0)
	if date, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		return now.Add(reset.Sub(date) + time.Second), true
	}
	return reset.Add(time.Second), true
}

// observe notes a used-up budget from a successful answer and waits for
// its reset before the next request. It also removes X-RateLimit-Reset
// from that answer: go-github would otherwise refuse every later call
// itself until the reset ("not making remote request"), turning a short
// wait into failed deploy statuses.
func (t *retryTransport) observe(resp *http.Response) {
	if resp == nil || resp.StatusCode >= 300 || resp.Header.Get("X-RateLimit-Remaining") != "0" {
		return
	}
	reset, ok := resetAt(resp, t.now())
	if !ok {
		return
	}
	t.mu.Lock()
	t.exhaustedTo = reset
	t.mu.Unlock()
	resp.Header.Del("X-RateLimit-Reset")
}

// waitForBudget waits until a used-up budget resets, when that is within
// MaxWait; beyond it the request goes out and GitHub answers for itself.
func (t *retryTransport) waitForBudget(ctx context.Context, req *http.Request) error {
	t.mu.Lock()
	until := t.exhaustedTo
	t.mu.Unlock()
	wait := until.Sub(t.now())
	if wait <= 0 || !t.canWait(ctx, wait) {
		return nil
	}
	t.log.WarnContext(ctx, "github: rate limit used up, waiting for its reset", slog.String("method", req.Method),
		slog.String("path", req.URL.Path), slog.Duration("wait", wait))
	if err := t.policy.Sleep(ctx, wait); err != nil {
		return fmt.Errorf("%s %s: waiting %s for the rate limit to reset: %w", req.Method, req.URL.Path, wait, err)
	}
	t.mu.Lock()
	if !t.exhaustedTo.After(until) {
		t.exhaustedTo = time.Time{}
	}
	t.mu.Unlock()
	return nil
}

// safeToRepeat reports whether sending req twice has the effect of sending
// it once (see RetryPolicy).
func safeToRepeat(req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodPatch:
		return true
	case http.MethodPost:
		p := req.URL.Path
		return (strings.Contains(p, "/app/installations/") && strings.HasSuffix(p, "/access_tokens")) ||
			(strings.Contains(p, "/issues/") && (strings.HasSuffix(p, "/labels") || strings.HasSuffix(p, "/reactions")))
	}
	return false
}

// notSent reports whether err happened before the request could reach
// GitHub (the connection was never opened), so any method may be retried.
func notSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}
