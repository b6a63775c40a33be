package github

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	gh "github.com/google/go-github/v60/github"
)

func TestRetriesAndRateLimitsAgainstFakeGitHub(t *testing.T) {
	tests := []struct {
		name      string
		fault     func(w *outWorld)
		call      func(w *outWorld, c *gh.Client) error
		wantErr   bool
		wantCalls int // calls that reached the faulted route
		route     string
		method    string
		wantWaits func(t *testing.T, waits []time.Duration)
	}{
		{
			name:  "502 then 200 on a GET is retried after a backoff",
			fault: func(w *outWorld) { w.gh.FailNext("GET", "/repos/*/*", http.StatusBadGateway, 1) },
			call: func(w *outWorld, c *gh.Client) error {
				_, _, err := c.Repositories.Get(context.Background(), "acme", "web")
				return err
			},
			method: "GET", route: "/repos/acme/web", wantCalls: 2,
			wantWaits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 1 || waits[0] < 250*time.Millisecond || waits[0] > 500*time.Millisecond {
					t.Errorf("waits = %v, want one backoff in [250ms, 500ms]", waits)
				}
			},
		},
		{
			name:  "503 three times is retried with growing backoff, then done",
			fault: func(w *outWorld) { w.gh.FailNext("GET", "/repos/*/*", http.StatusServiceUnavailable, 3) },
			call: func(w *outWorld, c *gh.Client) error {
				_, _, err := c.Repositories.Get(context.Background(), "acme", "web")
				return err
			},
			method: "GET", route: "/repos/acme/web", wantCalls: 4,
			wantWaits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 3 || waits[2] < time.Second {
					t.Errorf("waits = %v, want 3 growing backoffs", waits)
				}
			},
		},
		{
			name:  "504 past the attempt bound reaches the caller",
			fault: func(w *outWorld) { w.gh.FailNext("GET", "/repos/*/*", http.StatusGatewayTimeout, 10) },
			call: func(w *outWorld, c *gh.Client) error {
				_, _, err := c.Repositories.Get(context.Background(), "acme", "web")
				return err
			},
			wantErr: true, method: "GET", route: "/repos/acme/web", wantCalls: 4,
		},
		{
			name:  "POST /deployments answered 502 is not repeated (it may have created one)",
			fault: func(w *outWorld) { w.gh.FailNext("POST", "/repos/*/*/deployments", http.StatusBadGateway, 1) },
			call: func(w *outWorld, c *gh.Client) error {
				_, _, err := c.Repositories.CreateDeployment(context.Background(), "acme", "web", &gh.DeploymentRequest{Ref: gh.String("main")})
				return err
			},
			wantErr: true, method: "POST", route: "/repos/acme/web/deployments", wantCalls: 1,
			wantWaits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 0 {
					t.Errorf("waits = %v, want none", waits)
				}
			},
		},
		{
			name:  "primary rate limit with a reset time is waited for, then retried",
			fault: func(w *outWorld) { w.gh.RateLimitNext("GET", "/repos/*/*", 30*time.Second, 1) },
			call: func(w *outWorld, c *gh.Client) error {
				_, _, err := c.Repositories.Get(context.Background(), "acme", "web")
				return err
			},
			method: "GET", route: "/repos/acme/web", wantCalls: 2,
			wantWaits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 1 || waits[0] < 29*time.Second || waits[0] > 33*time.Second {
					t.Errorf("waits = %v, want one wait of about 30s (until the reset)", waits)
				}
			},
		},
		{
			name: "secondary rate limit: Retry-After is honoured, even for a POST",
			fault: func(w *outWorld) {
				w.gh.SecondaryRateLimitNext("POST", "/repos/*/*/deployments", http.StatusTooManyRequests, 7*time.Second, 1)
			},
			call: func(w *outWorld, c *gh.Client) error {
				_, _, err := c.Repositories.CreateDeployment(context.Background(), "acme", "web",
					&gh.DeploymentRequest{Ref: gh.String("main"), AutoMerge: gh.Bool(false), RequiredContexts: &[]string{}})
				return err
			},
			method: "POST", route: "/repos/acme/web/deployments", wantCalls: 2,
			wantWaits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 1 || waits[0] != 7*time.Second {
					t.Errorf("waits = %v, want [7s]", waits)
				}
			},
		},
		{
			name:  "a reset beyond MaxWait is not waited for: the caller gets the rate-limit error",
			fault: func(w *outWorld) { w.gh.RateLimitNext("GET", "/repos/*/*", 2*time.Hour, 1) },
			call: func(w *outWorld, c *gh.Client) error {
				_, _, err := c.Repositories.Get(context.Background(), "acme", "web")
				var rl *gh.RateLimitError
				if !errors.As(err, &rl) {
					return errors.New("want a *RateLimitError, got " + errString(err))
				}
				return err
			},
			wantErr: true, method: "GET", route: "/repos/acme/web", wantCalls: 1,
			wantWaits: func(t *testing.T, waits []time.Duration) {
				if len(waits) != 0 {
					t.Errorf("waits = %v, want none", waits)
				}
			},
		},
		{
			name: "the installation token exchange is retried after a 502",
			fault: func(w *outWorld) {
				w.gh.FailNext("POST", "/app/installations/*/access_tokens", http.StatusBadGateway, 1)
			},
			call: func(w *outWorld, c *gh.Client) error {
				_, _, err := c.Repositories.Get(context.Background(), "acme", "web")
				return err
			},
			method: "POST", route: "/app/installations/", wantCalls: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newOutWorld(t)
			c, err := w.app.ForRepo(outCtx(t), "acme/web")
			if err != nil {
				t.Fatal(err)
			}
			tt.fault(w)
			err = tt.call(w, c)
			if (err != nil) != tt.wantErr {
				t.Fatalf("call error = %v, want error %v", err, tt.wantErr)
			}
			n := 0
			for _, c := range w.gh.CallsMatching(tt.method, tt.route) {
				if c.Path == tt.route || strings.HasSuffix(tt.route, "/") {
					n++
				}
			}
			if n != tt.wantCalls {
				t.Errorf("%s %s reached GitHub %d times, want %d", tt.method, tt.route, n, tt.wantCalls)
			}
			if tt.wantWaits != nil {
				tt.wantWaits(t, w.sleeps.all())
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// A 200 that says the budget is used up makes the next request wait for
// the reset instead of go-github refusing it locally.
func TestUsedUpBudgetWaitsBeforeNextRequest(t *testing.T) {
	var calls atomic.Int32
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		w.Header().Set("Date", now.Format(http.TimeFormat))
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(now.Add(20*time.Second).Unix(), 10))
		w.Header().Set("X-RateLimit-Remaining", "0")
		if n > 1 {
			w.Header().Set("X-RateLimit-Remaining", "4999")
		}
		_, _ = io.WriteString(w, `{"id":1,"name":"web"}`)
	}))
	defer srv.Close()
	sleeps := &outSleeps{}
	rt := &retryTransport{next: http.DefaultTransport, policy: RetryPolicy{Sleep: sleeps.sleep}.withDefaults(),
		now: func() time.Time { return now }, log: discardLog()}
	c := gh.NewClient(&http.Client{Transport: rt})
	c.BaseURL = mustURL(t, srv.URL+"/")
	for i := range 2 {
		if _, _, err := c.Repositories.Get(outCtx(t), "acme", "web"); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("server saw %d calls, want 2", got)
	}
	waits := sleeps.all()
	if len(waits) != 1 || waits[0] != 21*time.Second {
		t.Errorf("waits = %v, want [21s] before the second call", waits)
	}
}

// A POST whose connection could not even be opened is retried: it never
// reached GitHub.
func TestPostRetriedOnlyWhenNeverSent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there now: dialing fails
	sleeps := &outSleeps{}
	rt := &retryTransport{next: http.DefaultTransport, policy: RetryPolicy{MaxAttempts: 3, Sleep: sleeps.sleep}.withDefaults(),
		now: time.Now, log: discardLog()}
	req, _ := http.NewRequestWithContext(outCtx(t), http.MethodPost, "http://"+addr+"/repos/acme/web/deployments", strings.NewReader(`{}`))
	_, err = rt.RoundTrip(req)
	if err == nil {
		t.Fatal("POST to a closed port succeeded")
	}
	if n := len(sleeps.all()); n != 2 {
		t.Errorf("retries of a never-sent POST = %d, want 2 (3 attempts)", n)
	}
}

func TestSafeToRepeat(t *testing.T) {
	tests := []struct {
		method, path string
		want         bool
	}{
		{"GET", "/repos/a/b/commits/main", true},
		{"PATCH", "/repos/a/b/issues/comments/5", true},
		{"DELETE", "/repos/a/b/issues/3/labels/deploy:staging", true},
		{"POST", "/app/installations/7/access_tokens", true},
		{"POST", "/repos/a/b/issues/3/labels", true},
		{"POST", "/repos/a/b/issues/comments/5/reactions", true},
		{"POST", "/repos/a/b/deployments", false},
		{"POST", "/repos/a/b/deployments/9/statuses", false},
		{"POST", "/repos/a/b/issues/3/comments", false},
		{"POST", "/repos/a/b/actions/runs/4/deployment_protection_rule", false},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, "https://api.example.test"+tt.path, nil)
			if got := safeToRepeat(req); got != tt.want {
				t.Errorf("safeToRepeat = %v, want %v", got, tt.want)
			}
		})
	}
}

// A body without GetBody is buffered and sent again intact on a retry,
// and the caller's request is left as it was.
func TestRetryReplaysABodyWithoutGetBody(t *testing.T) {
	var bodies []string
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, string(b))
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	rt := &retryTransport{next: http.DefaultTransport, policy: RetryPolicy{Sleep: (&outSleeps{}).sleep}.withDefaults(),
		now: time.Now, log: discardLog()}
	req, _ := http.NewRequestWithContext(outCtx(t), http.MethodPatch, srv.URL+"/repos/a/b/issues/comments/1", io.NopCloser(strings.NewReader(`{"body":"x"}`)))
	req.GetBody = nil
	orig := req.Body
	resp, err := rt.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("RoundTrip = %v, %v", resp, err)
	}
	_ = resp.Body.Close()
	if len(bodies) != 2 || bodies[0] != `{"body":"x"}` || bodies[1] != bodies[0] {
		t.Errorf("bodies = %q", bodies)
	}
	if req.Body != orig {
		t.Error("RoundTrip replaced the caller's request body")
	}
}
