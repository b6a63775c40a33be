package slack_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	tgslack "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

var linkRE = regexp.MustCompile(`<(http[^|>]+)\|Link your GitHub account>`)

// linkURL runs /deploy link as user and returns the one-time link.
func (w *world) linkURL(user string) string {
	w.t.Helper()
	a := w.command(user, "link")
	var reply struct{ Text string }
	_ = json.Unmarshal([]byte(a.body), &reply)
	m := linkRE.FindStringSubmatch(reply.Text)
	if a.status != 200 || m == nil {
		w.t.Fatalf("/deploy link answered %d %s", a.status, a.body)
	}
	return m[1]
}

// browser is one person's browser: it keeps cookies and stops before
// Tollgate's callback so a test can choose when (and where) to open it.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{Jar: jar, Timeout: waitLimit,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == tgslack.PathOAuthCallback {
				return http.ErrUseLastResponse
			}
			return nil
		}}}
}

// start opens the link and follows GitHub's authorize page; it returns
// the callback URL GitHub redirects to.
func (b *browser) start(link string) string {
	b.t.Helper()
	resp, err := b.client.Get(link)
	if err != nil {
		b.t.Fatalf("opening the link: %v", err)
	}
	defer resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.Contains(loc, tgslack.PathOAuthCallback) {
		body, _ := io.ReadAll(resp.Body)
		b.t.Fatalf("link answered %d (Location %q): %s", resp.StatusCode, loc, body)
	}
	return loc
}

// open GETs u and returns the status and page.
func (b *browser) open(u string) (int, string) {
	b.t.Helper()
	resp, err := b.client.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func (w *world) linkOf(user string) (bot.Link, bool) {
	l, err := w.st.LinkFor(context.Background(), bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: slacktest.DefaultTeamID, User: user})
	if errors.Is(err, bot.ErrNotFound) {
		return bot.Link{}, false
	}
	if err != nil {
		w.t.Fatal(err)
	}
	return l, true
}

func TestLinkingFlow(t *testing.T) {
	t.Run("good state links the numeric GitHub id", func(t *testing.T) {
		w := newWorld(t)
		w.gh.AuthorizeAs("bob")
		b := newBrowser(t)
		callback := b.start(w.linkURL("U0BOB"))
		q, _ := url.Parse(callback)
		if q.Query().Get("state") == "" || q.Query().Get("code") == "" {
			t.Fatalf("callback without state or code: %s", callback)
		}
		status, page := b.open(callback)
		if status != 200 || !strings.Contains(page, "linked to GitHub user bob") {
			t.Fatalf("callback answered %d: %s", status, page)
		}
		l, ok := w.linkOf("U0BOB")
		if !ok || l.GitHubLogin != "bob" || l.GitHubID != w.gh.UserID("bob") {
			t.Fatalf("link = %+v (found %v), want bob with id %d", l, ok, w.gh.UserID("bob"))
		}
		if n := w.auditCount(bot.ActionIdentityLinked, `"github_login":"bob"`); n != 1 {
			t.Errorf("%d identity.linked entries, want 1", n)
		}
		// PKCE: the authorize request carried an S256 challenge and the
		// exchange its verifier.
		ex := w.gh.CallsMatching("POST", "/login/oauth/access_token")
		if len(ex) != 1 || !strings.Contains(string(ex[0].Body), "code_verifier=") {
			t.Errorf("token exchange without a PKCE verifier: %d calls", len(ex))
		}
		if a := w.command("U0BOB", "whoami"); !strings.Contains(a.body, "GitHub user *bob*") {
			t.Errorf("whoami answered %s", a.body)
		}
		if a := w.command("U0BOB", "unlink"); !strings.Contains(a.body, "no longer linked") {
			t.Errorf("unlink answered %s", a.body)
		}
		if _, ok := w.linkOf("U0BOB"); ok {
			t.Errorf("still linked after unlink")
		}
	})

	refusals := []struct {
		name     string
		run      func(w *world) (status int, page string)
		wantPage string
		wantCode bot.RefusalCode
	}{
		{name: "reused state", run: func(w *world) (int, string) {
			w.gh.AuthorizeAs("bob")
			b := newBrowser(w.t)
			callback := b.start(w.linkURL("U0BOB"))
			if status, page := b.open(callback); status != 200 {
				w.t.Fatalf("first use answered %d: %s", status, page)
			}
			if _, err := w.st.DeleteLinks(context.Background(), bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: slacktest.DefaultTeamID, User: "U0BOB"}, 0,
				bot.AuditEvent{Actor: "test", Action: bot.ActionIdentityUnlinked, Subject: "U0BOB"}); err != nil {
				w.t.Fatal(err)
			}
			return b.open(callback)
		}, wantPage: "this sign-in was already used", wantCode: "link_used"},
		{name: "reused link", run: func(w *world) (int, string) {
			w.gh.AuthorizeAs("bob")
			link := w.linkURL("U0BOB")
			newBrowser(w.t).start(link)
			return newBrowser(w.t).open(link)
		}, wantPage: "this link was already used", wantCode: "link_used"},
		{name: "expired link", run: func(w *world) (int, string) {
			w.gh.AuthorizeAs("bob")
			link := w.linkURL("U0BOB")
			w.skew.Store(int64(11 * time.Minute))
			return newBrowser(w.t).open(link)
		}, wantPage: "this link expired", wantCode: "link_expired"},
		{name: "state from another Slack user", run: func(w *world) (int, string) {
			w.gh.AuthorizeAs("bob")
			bobs := newBrowser(w.t)
			bobCallback := bobs.start(w.linkURL("U0BOB"))
			w.gh.AuthorizeAs("dave")
			daves := newBrowser(w.t)
			daves.start(w.linkURL("U0DAVE"))
			return daves.open(bobCallback) // dave's browser completes bob's sign-in
		}, wantPage: "started by another Slack user", wantCode: "link_other_user"},
		{name: "unknown token", run: func(w *world) (int, string) {
			return newBrowser(w.t).open(w.srv.URL + tgslack.PathOAuthStart + "?token=forged")
		}, wantPage: "this link is not valid", wantCode: "link_unknown"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			linkedBefore := w.auditCount(bot.ActionIdentityLinked, "")
			status, page := tt.run(w)
			if status != http.StatusForbidden || !strings.Contains(page, tt.wantPage) {
				t.Fatalf("answered %d %q, want 403 containing %q", status, page, tt.wantPage)
			}
			if n := w.auditCount(bot.ActionActionRefused, `"code":"`+string(tt.wantCode)+`"`); n != 1 {
				t.Errorf("%d refusals audited with code %s, want 1", n, tt.wantCode)
			}
			if tt.name != "reused state" {
				if n := w.auditCount(bot.ActionIdentityLinked, ""); n != linkedBefore {
					t.Errorf("an identity was linked")
				}
				for _, u := range []string{"U0BOB", "U0DAVE"} {
					if l, ok := w.linkOf(u); ok {
						t.Errorf("%s got linked to %s", u, l.GitHubLogin)
					}
				}
			} else if _, ok := w.linkOf("U0BOB"); ok {
				t.Errorf("the reused state linked again")
			}
		})
	}
}

func TestUnlinkedUserMayOnlyAskForHelpAndLink(t *testing.T) {
	w := newWorld(t)
	w.gh.AuthorizeAs("erin")
	if a := w.command("U0ERIN", "help"); !strings.Contains(a.body, "/deploy rollback") {
		t.Errorf("help answered %s", a.body)
	}
	if a := w.command("U0ERIN", "whoami"); !strings.Contains(a.body, "not linked") {
		t.Errorf("whoami answered %s", a.body)
	}
	for _, text := range []string{"production", "status", "lock production testing", "cancel r-abcdef"} {
		if a := w.command("U0ERIN", text); !strings.Contains(a.body, "link your GitHub account first") {
			t.Errorf("/deploy %s answered %s", text, a.body)
		}
	}
	if n := w.auditCount(bot.ActionActionRefused, "not_linked"); n != 4 {
		t.Errorf("%d refusals audited, want 4", n)
	}
	link := w.linkURL("U0ERIN")
	b := newBrowser(t)
	if status, page := b.open(b.start(link)); status != 200 {
		t.Fatalf("linking answered %d %s", status, page)
	}
	if a := w.command("U0ERIN", "status production"); !strings.Contains(a.body, "acme/shop production") {
		t.Errorf("status after linking answered %s", a.body)
	}
}
