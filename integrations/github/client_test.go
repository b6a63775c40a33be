package github

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

// outSleeps records the waits of an injected RetryPolicy.Sleep, which
// returns at once so tests never sleep.
type outSleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *outSleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	s.waits = append(s.waits, d)
	s.mu.Unlock()
	return ctx.Err()
}

func (s *outSleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

// outWorld is a fake GitHub with org acme (teams deployers, approvers), the
// app installed on it, and acme/web with one commit on main; plus an App
// pointed at it whose sleeps are recorded.
type outWorld struct {
	gh     *githubtest.Server
	app    *App
	sleeps *outSleeps
}

func newOutWorld(t *testing.T) *outWorld {
	t.Helper()
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	gh.AddInstallation("acme")
	gh.AddRepo("acme/web")
	gh.AddCommit("acme/web", "main", outSHA("base"))
	w := &outWorld{gh: gh, sleeps: &outSleeps{}}
	w.app = w.newApp(t, gh.APIURL())
	return w
}

func (w *outWorld) newApp(t *testing.T, apiURL string) *App {
	t.Helper()
	app, err := NewApp(outCtx(t), AppConfig{APIURL: apiURL, AppID: w.gh.AppID(), PrivateKey: w.gh.AppPrivateKeyPEM(),
		Retry: RetryPolicy{Sleep: w.sleeps.sleep}})
	if err != nil {
		t.Fatalf("NewApp: %v", err)
	}
	return app
}

// outSHA makes a 40-hex-digit SHA from a label.
func outSHA(label string) string {
	return githubtest.SHA(label)
}

func outCtx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestNewAppRejectsBadConfig(t *testing.T) {
	gh := githubtest.New()
	defer gh.Close()
	tests := []struct {
		name string
		cfg  AppConfig
		want string
	}{
		{"no app id", AppConfig{PrivateKey: gh.AppPrivateKeyPEM()}, "app id is required"},
		{"no key", AppConfig{AppID: 1}, "no PEM block"},
		{"garbage key", AppConfig{AppID: 1, PrivateKey: []byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n")}, "neither PKCS#1 nor PKCS#8"},
		{"bad url", AppConfig{AppID: 1, PrivateKey: gh.AppPrivateKeyPEM(), APIURL: "ghe.example.com"}, "want http(s)://host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewApp(context.Background(), tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewApp error = %v, want it to say %q", err, tt.want)
			}
		})
	}
}

func TestInstallationTokenFlowAndCaching(t *testing.T) {
	tests := []struct {
		name   string
		apiURL func(*githubtest.Server) string
	}{
		{"GHES style api/v3 base", (*githubtest.Server).APIURL},
		{"api.github.com style root base", (*githubtest.Server).URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newOutWorld(t)
			app := w.newApp(t, tt.apiURL(w.gh))
			for range 3 {
				c, err := app.ForRepo(outCtx(t), "acme/web")
				if err != nil {
					t.Fatalf("ForRepo: %v", err)
				}
				if _, _, err := c.Repositories.Get(outCtx(t), "acme", "web"); err != nil {
					t.Fatalf("GET repo with the installation token: %v", err)
				}
			}
			if n := len(w.gh.CallsMatching("GET", "/repos/acme/web/installation")); n != 1 {
				t.Errorf("installation lookups = %d, want 1 (cached)", n)
			}
			if n := len(w.gh.CallsMatching("POST", "/app/installations/")); n != 1 {
				t.Errorf("token exchanges = %d, want 1 (token reused)", n)
			}
			for _, c := range w.gh.CallsMatching("GET", "/repos/acme/web") {
				if c.Path == "/repos/acme/web" && !strings.HasPrefix(c.Header.Get("Authorization"), "token ") {
					t.Errorf("repo call authorised with %q, want an installation token", c.Header.Get("Authorization"))
				}
			}
			if u := w.gh.UnexpectedCalls(); len(u) > 0 {
				t.Errorf("unexpected calls: %+v", u)
			}
		})
	}
}

func TestForRepoNotInstalled(t *testing.T) {
	w := newOutWorld(t)
	w.gh.AddRepo("other/app")
	_, err := w.app.ForRepo(outCtx(t), "other/app")
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("ForRepo on an account without the app = %v, want ErrNotInstalled", err)
	}
	if _, err := w.app.ForRepo(outCtx(t), "not-a-repo"); err == nil || !strings.Contains(err.Error(), "owner/name") {
		t.Fatalf("ForRepo(not-a-repo) = %v, want a usage error", err)
	}
}

func TestForgetInstallationLooksUpAgain(t *testing.T) {
	w := newOutWorld(t)
	if _, err := w.app.ForRepo(outCtx(t), "acme/web"); err != nil {
		t.Fatal(err)
	}
	w.app.mu.Lock()
	id := w.app.byRepo["acme/web"]
	w.app.mu.Unlock()
	w.gh.RemoveInstallation(id)
	w.app.ForgetInstallation(id)
	if _, err := w.app.ForRepo(outCtx(t), "acme/web"); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("ForRepo after uninstall = %v, want ErrNotInstalled", err)
	}
	if n := len(w.gh.CallsMatching("GET", "/repos/acme/web/installation")); n != 2 {
		t.Errorf("installation lookups = %d, want 2", n)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
