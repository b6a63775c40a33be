package github

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// steppedClock is a clock tests move by hand.
type steppedClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *steppedClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *steppedClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// pendingProxy sits in front of the fake GitHub and answers the team
// membership of the given login as "pending" (an invitation not yet
// accepted), which the fake itself does not model.
func pendingProxy(t *testing.T, target, login string) string {
	t.Helper()
	u := mustURL(t, target)
	p := httputil.NewSingleHostReverseProxy(u)
	p.ModifyResponse = func(r *http.Response) error {
		if !strings.HasSuffix(r.Request.URL.Path, "/memberships/"+login) || r.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		b = bytes.Replace(b, []byte(`"state":"active"`), []byte(`"state":"pending"`), 1)
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.ContentLength = int64(len(b))
		r.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestDirectoryMemberships(t *testing.T) {
	w := newOutWorld(t)
	w.gh.SetTeamMember("acme", "deployers", "alice", "")
	w.gh.SetTeamMember("acme", "deployers", "mia", "maintainer")
	w.gh.SetTeamMember("acme", "deployers", "ivan", "")
	w.gh.AddUser("bob")
	app := w.newApp(t, pendingProxy(t, w.gh.URL(), "ivan"))
	dir := NewDirectory(app, 0)
	tests := []struct {
		name, team, login string
		want              bool
	}{
		{"active member", "deployers", "alice", true},
		{"login case does not matter", "deployers", "ALICE", true},
		{"maintainer is a member", "deployers", "mia", true},
		{"pending invitation is not membership", "deployers", "ivan", false},
		{"absent from the team", "deployers", "bob", false},
		{"unknown team", "no-such-team", "alice", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := dir.IsTeamMember(outCtx(t), "acme", tt.team, bot.Identity{Login: tt.login})
			if err != nil || got != tt.want {
				t.Fatalf("IsTeamMember(acme/%s, %s) = %v, %v; want %v", tt.team, tt.login, got, err, tt.want)
			}
		})
	}
}

func TestDirectoryCacheExpiryAndInvalidation(t *testing.T) {
	w := newOutWorld(t)
	w.gh.SetTeamMember("acme", "deployers", "alice", "")
	clock := &steppedClock{t: time.Now()}
	dir := NewDirectory(w.app, 5*time.Minute) // longer than allowed: capped at 60 s
	dir.now = clock.now
	ask := func() bool {
		t.Helper()
		ok, err := dir.IsTeamMember(outCtx(t), "acme", "deployers", bot.Identity{Login: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	lookups := func() int { return len(w.gh.CallsMatching("GET", "/orgs/acme/teams/deployers/memberships/")) }

	first, second := ask(), ask()
	if !first || !second || lookups() != 1 {
		t.Fatalf("two asks: lookups = %d, want 1 (second from cache)", lookups())
	}
	w.gh.RemoveTeamMember("acme", "deployers", "alice")
	clock.add(59 * time.Second)
	if !ask() || lookups() != 1 {
		t.Fatalf("within the TTL: want the cached answer, lookups = %d", lookups())
	}
	clock.add(2 * time.Second)
	if ask() {
		t.Fatal("after 61 s: still a member, want the removal seen (TTL capped at 60 s)")
	}
	w.gh.SetTeamMember("acme", "deployers", "alice", "")
	if ask() {
		t.Fatal("negative answer should be cached too")
	}
	dir.Invalidate("Alice")
	if !ask() {
		t.Fatal("after Invalidate(login): want a fresh lookup")
	}
	w.gh.RemoveTeamMember("acme", "deployers", "alice")
	dir.InvalidateTeam("ACME", "deployers")
	if ask() {
		t.Fatal("after InvalidateTeam: want a fresh lookup")
	}
	if lookups() != 4 {
		t.Errorf("lookups = %d, want 4", lookups())
	}
}

func TestDirectoryFailsClosed(t *testing.T) {
	w := newOutWorld(t)
	w.gh.SetTeamMember("acme", "deployers", "alice", "")
	dir := NewDirectory(w.app, 0)
	tests := []struct {
		name  string
		fault func()
		org   string
		login string
	}{
		{"GitHub answers 500", func() { w.gh.FailNext("GET", "/orgs/*/teams/*/memberships/*", http.StatusInternalServerError, 1) }, "acme", "alice"},
		{"GitHub answers 403 without rate limit", func() { w.gh.FailNext("GET", "/orgs/*/teams/*/memberships/*", http.StatusForbidden, 1) }, "acme", "alice"},
		{"502 past every retry", func() { w.gh.FailNext("GET", "/orgs/*/teams/*/memberships/*", http.StatusBadGateway, 10) }, "acme", "alice"},
		{"app not installed on the org", func() {}, "elsewhere", "alice"},
		{"empty login", func() {}, "acme", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.gh.ClearFaults()
			tt.fault()
			got, err := dir.IsTeamMember(outCtx(t), tt.org, "deployers", bot.Identity{Login: tt.login})
			if err == nil || got {
				t.Fatalf("IsTeamMember = %v, %v; want false and an error", got, err)
			}
			w.gh.ClearFaults()
		})
	}
	// Errors were not cached: a healthy GitHub answers again.
	if ok, err := dir.IsTeamMember(outCtx(t), "acme", "deployers", bot.Identity{Login: "alice"}); !ok || err != nil {
		t.Fatalf("after the faults: %v, %v; want member", ok, err)
	}
}

// Team membership follows the numeric id, not a login recorded earlier:
// mallory was recorded as "mallory" (at link time); she renamed herself
// away and carol, an approver, took the login. Asked about mallory's id,
// the directory asks about her current login, not carol's; an id no
// account holds any more is no member; without an id the login is used.
func TestDirectoryFollowsTheNumericID(t *testing.T) {
	w := newOutWorld(t)
	w.gh.SetTeamMember("acme", "approvers", "carol", "")
	mallory := bot.Identity{Login: "mallory", GitHubID: w.gh.AddUser("mallory")}
	carolID := w.gh.UserID("carol")
	if err := w.gh.RenameUser("mallory", "mallory-old"); err != nil {
		t.Fatal(err)
	}
	if err := w.gh.RenameUser("carol", "mallory"); err != nil {
		t.Fatal(err)
	}
	dir := NewDirectory(w.app, 0)
	for _, tc := range []struct {
		name string
		who  bot.Identity
		want bool
	}{
		{"mallory by her id, under an old login", mallory, false},
		{"carol by her id, renamed", bot.Identity{Login: "carol", GitHubID: carolID}, true},
		{"an id no account holds", bot.Identity{Login: "ghost", GitHubID: 999999}, false},
		{"a login without an id", bot.Identity{Login: "mallory"}, true},
	} {
		got, err := dir.IsTeamMember(outCtx(t), "acme", "approvers", tc.who)
		if err != nil || got != tc.want {
			t.Errorf("%s: IsTeamMember = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}
