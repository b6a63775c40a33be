package githubtest

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	"github.com/google/go-github/v60/github"
)

// newFake starts a fake with org "acme", the app installed on it and
// repository acme/web whose main branch has one commit.
func newFake(t *testing.T) (*Server, int64) {
	t.Helper()
	gh := New()
	t.Cleanup(gh.Close)
	inst := gh.AddInstallation("acme")
	gh.AddRepo("acme/web")
	gh.AddCommit("acme/web", "main", sha("base"))
	return gh, inst
}

// installationClient is how Tollgate talks to GitHub: ghinstallation on
// go-github, pointed at the fake as at GitHub Enterprise Server.
func installationClient(t *testing.T, gh *Server, inst int64) *github.Client {
	t.Helper()
	itr, err := ghinstallation.New(http.DefaultTransport, gh.AppID(), inst, gh.AppPrivateKeyPEM())
	if err != nil {
		t.Fatalf("ghinstallation.New: %v", err)
	}
	itr.BaseURL = gh.APIURL()
	c, err := github.NewClient(&http.Client{Transport: itr}).WithEnterpriseURLs(gh.URL(), gh.URL())
	if err != nil {
		t.Fatalf("WithEnterpriseURLs: %v", err)
	}
	return c
}

// appClient authenticates as the app itself (JWT), with the api.github.com
// style base URL.
func appClient(t *testing.T, gh *Server) *github.Client {
	t.Helper()
	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, gh.AppID(), gh.AppPrivateKeyPEM())
	if err != nil {
		t.Fatalf("NewAppsTransport: %v", err)
	}
	atr.BaseURL = gh.URL()
	c, err := github.NewClient(&http.Client{Transport: atr}).WithEnterpriseURLs(gh.URL(), gh.URL())
	if err != nil {
		t.Fatalf("WithEnterpriseURLs: %v", err)
	}
	return c
}

// tokenClient is a go-github client sending a fixed token.
func tokenClient(t *testing.T, gh *Server, token string) *github.Client {
	t.Helper()
	c, err := github.NewClient(nil).WithAuthToken(token).WithEnterpriseURLs(gh.URL(), gh.URL())
	if err != nil {
		t.Fatalf("WithEnterpriseURLs: %v", err)
	}
	return c
}

// sha makes a 40-hex-digit SHA from a label, so tests read well.
func sha(label string) string {
	return SHA(label)
}

// ctx returns a test context with a generous deadline.
func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}
