package githubtest

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// getRepoRetrying is the retry loop a client is expected to have: retry 5xx,
// give up after a bound.
func getRepoRetrying(ctx context.Context, c *github.Client, attempts int) (int, error) {
	var err error
	for i := range attempts {
		var resp *github.Response
		_, resp, err = c.Repositories.Get(ctx, "acme", "web")
		if err == nil {
			return i + 1, nil
		}
		if resp == nil || resp.StatusCode < 500 {
			return i + 1, err
		}
	}
	return attempts, err
}

func TestFailNextThenNormal(t *testing.T) {
	tests := []struct {
		name         string
		method, path string
		failures     int
		wantAttempts int
		wantErr      bool
	}{
		{"502 once then ok", "GET", "/repos/acme/web", 1, 2, false},
		{"glob pattern, any method", "", "/repos/*/*", 2, 3, false},
		{"more failures than attempts", "GET", "/repos/acme/web", 5, 3, true},
		{"pattern for another path does not fire", "GET", "/repos/acme/other", 1, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gh, inst := newFake(t)
			c := installationClient(t, gh, inst)
			gh.FailNext(tt.method, tt.path, http.StatusBadGateway, tt.failures)
			n, err := getRepoRetrying(ctx(t), c, 3)
			if n != tt.wantAttempts || (err != nil) != tt.wantErr {
				t.Errorf("attempts %d err %v; want %d, error %v", n, err, tt.wantAttempts, tt.wantErr)
			}
		})
	}
}

func TestFailNextOnTokenEndpoint(t *testing.T) {
	gh, inst := newFake(t)
	gh.FailNext("POST", "/app/installations/*/access_tokens", http.StatusInternalServerError, 1)
	c := installationClient(t, gh, inst)
	if _, _, err := c.Repositories.Get(ctx(t), "acme", "web"); err == nil {
		t.Fatal("first call succeeded despite a failing token endpoint")
	}
	if _, _, err := c.Repositories.Get(ctx(t), "acme", "web"); err != nil {
		t.Fatalf("second call: %v", err)
	}
}

func TestRateLimitResponses(t *testing.T) {
	gh, inst := newFake(t)
	c := installationClient(t, gh, inst)

	gh.RateLimitNext("GET", "/repos/acme/web", 42*time.Second, 1)
	_, _, err := c.Repositories.Get(ctx(t), "acme", "web")
	var rl *github.RateLimitError
	if !errors.As(err, &rl) || rl.Rate.Remaining != 0 || time.Until(rl.Rate.Reset.Time) < 30*time.Second {
		t.Fatalf("primary limit: err %v, want RateLimitError with reset ~42s ahead", err)
	}

	// go-github now refuses calls until the reset on its own, as with
	// GitHub; a fresh client shows the next case.
	gh.SecondaryRateLimitNext("GET", "/orgs/acme", http.StatusForbidden, 3*time.Second, 1)
	_, _, err = installationClient(t, gh, inst).Organizations.Get(ctx(t), "acme")
	var ab *github.AbuseRateLimitError
	if !errors.As(err, &ab) || ab.RetryAfter == nil || *ab.RetryAfter != 3*time.Second {
		t.Fatalf("secondary limit: err %v, want AbuseRateLimitError RetryAfter 3s", err)
	}

	gh.SecondaryRateLimitNext("", "/orgs/acme/**", http.StatusTooManyRequests, 2*time.Second, 1)
	_, resp, err := installationClient(t, gh, inst).Teams.ListTeams(ctx(t), "acme", nil)
	if err == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("429: %v %v", resp, err)
	}
}

func TestDelayHoldsRequests(t *testing.T) {
	gh, inst := newFake(t)
	c := installationClient(t, gh, inst)
	if _, _, err := c.Repositories.Get(ctx(t), "acme", "web"); err != nil { // token fetched before the delay applies
		t.Fatal(err)
	}
	gh.Delay("/repos/acme/web", time.Minute)
	short, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := c.Repositories.Get(short, "acme", "web"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("delayed call: err %v, want deadline exceeded", err)
	}
	gh.Delay("/repos/acme/web", 0)
	if _, _, err := c.Repositories.Get(ctx(t), "acme", "web"); err != nil {
		t.Fatalf("after removing the delay: %v", err)
	}
}

func TestUnknownRouteIsRecorded(t *testing.T) {
	gh, inst := newFake(t)
	c := installationClient(t, gh, inst)
	_, resp, err := c.Repositories.ListHooks(ctx(t), "acme", "web", nil)
	var er *github.ErrorResponse
	if !errors.As(err, &er) || resp.StatusCode != http.StatusNotFound || er.Message != "Not Found" {
		t.Fatalf("unknown route: %v %v", resp, err)
	}
	got := gh.UnexpectedCalls()
	if len(got) != 1 || got[0].Method != "GET" || got[0].Path != "/repos/acme/web/hooks" {
		t.Errorf("unexpected calls = %+v", got)
	}
	if len(gh.CallsMatching("GET", "/repos/acme/web")) != 1 {
		t.Errorf("all calls = %+v", gh.Calls())
	}
}
