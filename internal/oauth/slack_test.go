package oauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/internal/oauth"
)

const slackRedirect = "https://tollgate.example.com/oauth/slack/callback"

func newSlackClient(t *testing.T) (*slacktest.Server, oauth.Slack) {
	t.Helper()
	sl := slacktest.New(slacktest.Options{})
	t.Cleanup(sl.Close)
	sl.AddUser("U0BOB", "bob")
	return sl, oauth.Slack{WebURL: sl.WebURL(), APIURL: sl.APIURL(), ClientID: sl.ClientID(), ClientSecret: sl.ClientSecret()}
}

// slackAuthorize runs Slack's authorize page signed in as user and returns
// the started flow and the code the browser brings back.
func slackAuthorize(t *testing.T, sl *slacktest.Server, c oauth.Slack, user string) (oauth.SlackFlow, string) {
	t.Helper()
	sl.SignInAs(user)
	f := c.Start(slackRedirect, sl.TeamID())
	u, _ := url.Parse(f.URL)
	q := u.Query()
	if u.Path != slacktest.PathAuthorize || q.Get("scope") != "openid" || q.Get("nonce") != f.Nonce ||
		q.Get("team") != sl.TeamID() || q.Get("code_challenge_method") != "S256" {
		t.Fatalf("authorize URL %s", f.URL)
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != f.State {
		t.Fatalf("authorize answered %s with Location %q", resp.Status, resp.Header.Get("Location"))
	}
	return f, loc.Query().Get("code")
}

func TestSlackSignInSaysWhoSignedIn(t *testing.T) {
	sl, c := newSlackClient(t)
	f, code := slackAuthorize(t, sl, c, "U0BOB")
	u, err := c.SignIn(context.Background(), code, f.Verifier, f.Nonce, slackRedirect)
	if err != nil {
		t.Fatal(err)
	}
	if u.TeamID != sl.TeamID() || u.UserID != "U0BOB" || u.Subject != "U0BOB" {
		t.Fatalf("signed in as %+v", u)
	}
	calls := sl.CallsTo("openid.connect.token")
	if len(calls) != 1 || calls[0].Params.Get("client_secret") != "" || calls[0].Params.Get("code_verifier") != "" {
		t.Errorf("token calls %+v: want one, recorded without its secrets", calls)
	}
}

func TestSlackSignInRefusals(t *testing.T) {
	ctx := context.Background()
	sl, c := newSlackClient(t)
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"another sign-in's nonce", func() error {
			f, code := slackAuthorize(t, sl, c, "U0BOB")
			_, err := c.SignIn(ctx, code, f.Verifier, "not-the-nonce", slackRedirect)
			return err
		}, "another sign-in"},
		{"a wrong PKCE verifier", func() error {
			f, code := slackAuthorize(t, sl, c, "U0BOB")
			_, err := c.SignIn(ctx, code, f.Verifier+"x", f.Nonce, slackRedirect)
			return err
		}, "did not accept"},
		{"a code used twice", func() error {
			f, code := slackAuthorize(t, sl, c, "U0BOB")
			if _, err := c.SignIn(ctx, code, f.Verifier, f.Nonce, slackRedirect); err != nil {
				return err
			}
			_, err := c.SignIn(ctx, code, f.Verifier, f.Nonce, slackRedirect)
			return err
		}, "did not accept"},
		{"a wrong client secret", func() error {
			f, code := slackAuthorize(t, sl, c, "U0BOB")
			bad := c
			bad.ClientSecret = "wrong"
			_, err := bad.SignIn(ctx, code, f.Verifier, f.Nonce, slackRedirect)
			return err
		}, "did not accept"},
		{"no code", func() error {
			_, err := c.SignIn(ctx, "", "v", "n", slackRedirect)
			return err
		}, "without a code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SignIn error %v, want one saying %q", err, tt.want)
			}
		})
	}
}

func TestSlackCheckClient(t *testing.T) {
	sl, c := newSlackClient(t)
	if err := c.CheckClient(context.Background()); err != nil {
		t.Fatalf("the right client: %v", err)
	}
	for _, tc := range []struct {
		name string
		set  func(*oauth.Slack)
		want string
	}{
		{"wrong secret", func(c *oauth.Slack) { c.ClientSecret = "not-the-secret" }, "openid.connect.token: bad_client_secret"},
		{"wrong client id", func(c *oauth.Slack) { c.ClientID = "1.2" }, "openid.connect.token: invalid_client_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := c
			tc.set(&bad)
			err := bad.CheckClient(context.Background())
			if err == nil || err.Error() != tc.want {
				t.Fatalf("CheckClient = %v, want %s", err, tc.want)
			}
			if strings.Contains(err.Error(), bad.ClientSecret) {
				t.Fatalf("the error quotes the secret: %v", err)
			}
		})
	}
	if n := len(sl.CallsTo("openid.connect.token")); n != 3 {
		t.Errorf("%d token calls, want 3", n)
	}
}
