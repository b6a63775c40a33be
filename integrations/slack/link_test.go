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
	"strconv"
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

// browser is one person's browser: it keeps cookies, is signed in to
// Slack as slackUser and to GitHub as login (the fakes sign in at once),
// and stops before Tollgate's GitHub callback so a test can choose when
// (and where) to open it.
type browser struct {
	t                *testing.T
	w                *world
	client           *http.Client
	slackUser, login string
}

func newBrowser(w *world, slackUser, login string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: w.t, w: w, slackUser: slackUser, login: login, client: &http.Client{Jar: jar, Timeout: waitLimit,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if req.URL.Path == tgslack.PathOAuthCallback {
				return http.ErrUseLastResponse
			}
			return nil
		}}}
}

// signedIn sets the fakes to this browser's people for one step.
func (b *browser) signedIn() {
	b.w.sl.SignInAs(b.slackUser)
	b.w.gh.AuthorizeAs(b.login)
}

// start opens the link and goes through Sign in with Slack and GitHub's
// authorize page; it returns the GitHub callback URL the browser is sent
// to, or fails the test with the page it got instead.
func (b *browser) start(link string) string {
	b.t.Helper()
	loc, status, page := b.try(link)
	if loc == "" {
		b.t.Fatalf("linking ended with %d before GitHub's callback: %s", status, page)
	}
	return loc
}

// try opens the link and follows it; it returns the GitHub callback URL
// when it got that far, else the status and page where it stopped.
func (b *browser) try(link string) (callback string, status int, page string) {
	b.t.Helper()
	b.signedIn()
	resp, err := b.client.Get(link)
	if err != nil {
		b.t.Fatalf("opening the link: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if loc := resp.Header.Get("Location"); resp.StatusCode == http.StatusFound && strings.Contains(loc, tgslack.PathOAuthCallback) {
		return loc, resp.StatusCode, string(body)
	}
	return "", resp.StatusCode, string(body)
}

// open GETs u and returns the status and page.
func (b *browser) open(u string) (int, string) {
	b.t.Helper()
	b.signedIn()
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
	t.Run("both sign-ins in one browser link the numeric GitHub id", func(t *testing.T) {
		w := newWorld(t)
		b := newBrowser(w, "U0BOB", "bob")
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
		// The audit entry records both proofs (keys in canonical order).
		for _, proof := range []string{
			`{"account":"` + slacktest.DefaultTeamID + `/U0BOB","at":`, `"method":"slack_openid_connect","side":"chat","subject":"U0BOB"}`,
			`{"account":"bob","at":`, `"method":"github_oauth_pkce","side":"github","subject":"` + strconv.FormatInt(w.gh.UserID("bob"), 10) + `"}`,
		} {
			if n := w.auditCount(bot.ActionIdentityLinked, proof); n != 1 {
				t.Errorf("%d identity.linked entries with %s, want 1", n, proof)
			}
		}
		// PKCE on both legs: the token exchanges carried their verifiers.
		ex := w.gh.CallsMatching("POST", "/login/oauth/access_token")
		if len(ex) != 1 || !strings.Contains(string(ex[0].Body), "code_verifier=") {
			t.Errorf("GitHub token exchange without a PKCE verifier: %d calls", len(ex))
		}
		if calls := w.sl.CallsTo("openid.connect.token"); len(calls) != 1 || calls[0].Error != "" {
			t.Errorf("Sign in with Slack token exchanges: %+v", calls)
		}
		// The channel is told, naming both identities.
		w.eventually("the link announced in the channel", func() bool {
			for _, m := range w.sl.Messages(channel) {
				if strings.Contains(m.Text, "<@U0BOB>") && strings.Contains(m.Text, "GitHub user *bob*") {
					return true
				}
			}
			return false
		})
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
		wantCode bot.RefusalCode // audited with this code; "" when the attempt names nobody
	}{
		{name: "a forwarded link opened by another Slack user", run: func(w *world) (int, string) {
			// bob ran /deploy link and sent the URL to dave, an approver.
			_, status, page := newBrowser(w, "U0DAVE", "dave").try(w.linkURL("U0BOB"))
			return status, page
		}, wantPage: "this link was made for another Slack user", wantCode: tgslack.CodeLinkOtherUser},
		{name: "a GitHub callback replayed after the link was made", run: func(w *world) (int, string) {
			b := newBrowser(w, "U0BOB", "bob")
			callback := b.start(w.linkURL("U0BOB"))
			if status, page := b.open(callback); status != 200 {
				w.t.Fatalf("first use answered %d: %s", status, page)
			}
			if _, err := w.st.DeleteLinks(context.Background(), bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: slacktest.DefaultTeamID, User: "U0BOB"}, 0,
				bot.AuditEvent{Actor: "test", Action: bot.ActionIdentityUnlinked, Subject: "U0BOB"}); err != nil {
				w.t.Fatal(err)
			}
			return b.open(callback)
		}, wantPage: "was already used"},
		{name: "reused link", run: func(w *world) (int, string) {
			link := w.linkURL("U0BOB")
			newBrowser(w, "U0BOB", "bob").start(link)
			return newBrowser(w, "U0BOB", "bob").open(link)
		}, wantPage: "this link was already used", wantCode: tgslack.CodeLinkUsed},
		{name: "expired link", run: func(w *world) (int, string) {
			link := w.linkURL("U0BOB")
			w.skew.Store(int64(11 * time.Minute))
			return newBrowser(w, "U0BOB", "bob").open(link)
		}, wantPage: "this link expired", wantCode: tgslack.CodeLinkExpired},
		{name: "GitHub callback opened in another Slack user's browser", run: func(w *world) (int, string) {
			bobCallback := newBrowser(w, "U0BOB", "bob").start(w.linkURL("U0BOB"))
			daves := newBrowser(w, "U0DAVE", "dave")
			daves.start(w.linkURL("U0DAVE"))
			return daves.open(bobCallback) // dave's browser completes bob's sign-in
		}, wantPage: "started in another browser, or by another Slack user", wantCode: tgslack.CodeLinkOtherUser},
		{name: "Sign in with Slack declined", run: func(w *world) (int, string) {
			b := newBrowser(w, "", "bob") // the Slack page waits for a sign-in
			b.signedIn()
			resp, err := b.client.Get(w.linkURL("U0BOB"))
			if err != nil {
				w.t.Fatal(err)
			}
			resp.Body.Close()
			// The user declines: Slack sends the browser back with an error.
			return b.open(w.srv.URL + tgslack.PathSlackCallback + "?error=access_denied&state=" +
				url.QueryEscape(slackState(w.t, resp.Request.URL)))
		}, wantPage: "Slack did not authorize: access_denied", wantCode: tgslack.CodeLinkDenied},
		{name: "unknown token", run: func(w *world) (int, string) {
			return newBrowser(w, "U0BOB", "bob").open(w.srv.URL + tgslack.PathOAuthStart + "?token=forged")
		}, wantPage: "this link is not valid"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			linkedBefore := w.auditCount(bot.ActionIdentityLinked, "")
			refusedBefore := w.auditCount(bot.ActionActionRefused, `"action":"identity.link"`)
			status, page := tt.run(w)
			if status != http.StatusForbidden || !strings.Contains(page, tt.wantPage) {
				t.Fatalf("answered %d %q, want 403 containing %q", status, page, tt.wantPage)
			}
			refused := w.auditCount(bot.ActionActionRefused, `"action":"identity.link"`) - refusedBefore
			switch {
			case tt.wantCode == "" && refused != 0:
				t.Errorf("%d refusals audited for an attempt that names nobody, want none", refused)
			case tt.wantCode != "" && (refused != 1 || w.auditCount(bot.ActionActionRefused, `"code":"`+string(tt.wantCode)+`"`) != 1):
				t.Errorf("%d refusals audited, want 1 with code %s", refused, tt.wantCode)
			}
			if n := w.auditCount(bot.ActionIdentityLinked, ""); n != linkedBefore && !strings.HasPrefix(tt.name, "a GitHub callback replayed") {
				t.Errorf("an identity was linked")
			}
			for _, u := range []string{"U0BOB", "U0DAVE"} {
				if l, ok := w.linkOf(u); ok {
					t.Errorf("%s got linked to %s", u, l.GitHubLogin)
				}
			}
		})
	}
}

// slackState is the state Tollgate sent to Slack's authorize page at u.
func slackState(t *testing.T, u *url.URL) string {
	t.Helper()
	st := u.Query().Get("state")
	if u.Path != slacktest.PathAuthorize || st == "" {
		t.Fatalf("the browser is at %s, not Slack's authorize page", u)
	}
	return st
}

func TestUnlinkedUserMayOnlyAskForHelpAndLink(t *testing.T) {
	w := newWorld(t)
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
	b := newBrowser(w, "U0ERIN", "erin")
	if status, page := b.open(b.start(link)); status != 200 {
		t.Fatalf("linking answered %d %s", status, page)
	}
	if a := w.command("U0ERIN", "status production"); !strings.Contains(a.body, "acme/shop production") {
		t.Errorf("status after linking answered %s", a.body)
	}
}
