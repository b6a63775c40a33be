package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/store"
)

// TestServeMountsSlack checks the Slack transport is wired into the
// server: forged requests are refused before anything is stored, signed
// ones are answered and timed, and the linking pages are served.
func TestServeMountsSlack(t *testing.T) {
	const signingSecret = "e2e-slack-signing-secret"
	sl := slacktest.New(slacktest.Options{})
	t.Cleanup(sl.Close)
	e := newE2E(t, e2eOptions{})
	e.writeConfig(t, "")
	withSlack := strings.Replace(readTestFile(t, e.configPath), "repositories:", `slack:
  api_url: `+sl.APIURL()+`
  response_url_base: `+sl.ResponseURLBase()+`
  bot_token: `+sl.BotToken()+`
  signing_secret: `+signingSecret+`
  channel: C0DEPLOYS01
  channels:
    C0SHOPTEAM1: acme/shop
repositories:`, 1)
	withSlack = strings.Replace(withSlack, "  org: acme\n", "  org: acme\n  oauth_client_id: Iv1.e2e\n  oauth_client_secret: e2e-oauth-secret\n", 1)
	writeTestFile(t, e.configPath, withSlack)
	e.start(t)

	cmd := slacktest.SlashCommandParams{TeamID: sl.TeamID(), UserID: "U0ALICE01", UserName: "alice", ChannelID: "C0SHOPTEAM1",
		Text: "help", ResponseURL: sl.NewResponseURL()}
	cases := []struct {
		name   string
		secret string
		want   int
	}{
		{"forged signature", "not-the-secret", http.StatusUnauthorized},
		{"signed like Slack", signingSecret, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := slacktest.SlashCommand(context.Background(), e.url("/slack/commands"), c.secret, cmd)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Errorf("status %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
	for _, path := range []string{slackint.PathOAuthStart, slackint.PathSlackCallback, slackint.PathOAuthCallback} {
		if code, _ := e.get(t, path); code == http.StatusNotFound {
			t.Errorf("the linking page %s is not served", path)
		}
	}
	_, metrics := e.get(t, "/metrics")
	for _, want := range []string{`tollgate_webhook_ack_seconds_count{code="401",source="slack"} 1`,
		`tollgate_webhook_ack_seconds_count{code="200",source="slack"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if code := e.stop(t); code != exitOK {
		t.Fatalf("exit %d\n%s", code, e.stderr.String())
	}
	st := e.openDB(t)
	var stored int
	if err := st.DB().QueryRow(`SELECT count(*) FROM inbox WHERE source = 'slack'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored > 1 {
		t.Errorf("%d Slack requests stored; the forged one must not be", stored)
	}
}

func readTestFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A first start without teams.access_reviewers says once, in the log, that
// access reviews have no reviewer, and posts no reminder into the deploy
// channel, on this start or the next. Fails before this change: each fresh
// install posted "access review due" into the channel.
func TestServeWithoutAccessReviewersSaysSoOnceAndPostsNothing(t *testing.T) {
	w := newSlackE2E(t)
	const said = "access reviews have no reviewer configured"
	for start := 1; start <= 2; start++ {
		w.start(t)
		waitFor(t, "the log line about access reviewers", func() bool { return strings.Count(w.stderr.String(), said) == start })
		if code := w.stop(t); code != exitOK {
			t.Fatalf("serve exited %d:\n%s", code, w.stderr.String())
		}
		if n := strings.Count(w.stderr.String(), said); n != start {
			t.Errorf("start %d: the log says it %d times, want once per start", start, n)
		}
	}
	for _, m := range w.sl.Messages(slackE2EChannel) {
		if strings.Contains(strings.ToLower(m.Text), "access review") {
			t.Errorf("posted into the deploy channel: %q", m.Text)
		}
	}
	st, err := store.OpenReadOnly(context.Background(), w.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if got := auditData(t, st, bot.ActionAccessReviewReminded); len(got) != 0 {
		t.Errorf("reminders audited: %v", got)
	}
}
