package demo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/tollgate-dev/tollgate/server"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// demoStepTimeout bounds how long one step of the story may take; steps
// poll for completion, so a loaded machine only makes them slower.
const demoStepTimeout = 90 * time.Second

// demoPoll is how often the story looks whether a step completed.
const demoPoll = 25 * time.Millisecond

// demoStory plays the story against a running server through its HTTP
// endpoints, signing every request as GitHub or Slack would, and prints
// what people would see.
type demoStory struct {
	out       io.Writer
	base      string // http://127.0.0.1:port
	cfgPath   string
	dir       string
	fakes     *demoFakes
	targets   *demoTargets
	srv       *server.Server
	obs       *demoObserver
	slackSign string
	hookKey   string
	browser   *http.Client // keeps the web pages' session cookie, as a browser does
	step      int

	// Facts the closing summary and the test rely on.
	requests []bot.Request                // every request of the story, in order
	live     map[string]map[string]string // environment → path → SHA-256 of the files running there
}

func (st *demoStory) printf(format string, args ...any) { fmt.Fprintf(st.out, format, args...) }

// section starts a numbered step of the story.
func (st *demoStory) section(title string) {
	st.step++
	head := fmt.Sprintf("── %d. %s ", st.step, title)
	st.printf("\n%s%s\n", head, strings.Repeat("─", max(0, 78-len([]rune(head)))))
}

// waitFor polls cond until it reports true, fails, or the step times out.
func (st *demoStory) waitFor(ctx context.Context, what string, cond func(ctx context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, demoStepTimeout)
	defer cancel()
	for {
		ok, err := cond(ctx)
		if err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: gave up after %s", what, demoStepTimeout)
		case <-time.After(demoPoll):
		}
	}
}

// waitRequest waits for the request of env at sha by trigger to reach a
// state accepted by done, and returns it.
func (st *demoStory) waitRequest(ctx context.Context, env, sha string, trigger bot.Trigger, done func(bot.State) bool) (bot.Request, error) {
	var found bot.Request
	err := st.waitFor(ctx, fmt.Sprintf("the %s request for %s on %s", trigger, demoShort(sha), env), func(ctx context.Context) (bool, error) {
		rs, err := st.srv.Service().History(ctx, demoRepo, env, 50)
		if err != nil {
			return false, err
		}
		for _, r := range rs {
			if r.SHA == sha && r.Trigger == trigger && done(r.State) {
				found = r
				return true, nil
			}
		}
		return false, nil
	})
	if err == nil && !st.known(found.ID) {
		st.requests = append(st.requests, found)
	}
	return found, err
}

func (st *demoStory) known(id string) bool {
	for _, r := range st.requests {
		if r.ID == id {
			return true
		}
	}
	return false
}

// finished reports whether a request will not change any more.
func finished(s bot.State) bool { return s.Terminal() }

// webhook delivers a signed GitHub webhook and prints the exchange.
func (st *demoStory) webhook(ctx context.Context, p githubtest.Payload, what string) error {
	resp, err := st.fakes.gh.SendPayload(ctx, st.base+"/webhooks/github", st.hookKey, p)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	st.printf("  → GitHub POST /webhooks/github  %s %s, signed X-Hub-Signature-256 → %s\n", p.Event, what, resp.Status)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the webhook was answered %s", resp.Status)
	}
	return nil
}

// slash sends a signed /deploy command as p and returns the answer Slack
// shows only to p.
func (st *demoStory) slash(ctx context.Context, p demoPerson, text string) (string, error) {
	sl := st.fakes.slack
	resp, err := slacktest.SlashCommand(ctx, st.base+"/slack/commands", st.slackSign, slacktest.SlashCommandParams{
		UserID: p.SlackID, UserName: p.Login, ChannelID: demoChannel, ChannelName: demoChanName, Text: text,
		ResponseURL: sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: demoChannel, User: p.SlackID}),
	})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var answer struct {
		Text string `json:"text"`
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("/deploy %s was answered %s", text, resp.Status)
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &answer); err != nil {
			return "", fmt.Errorf("/deploy %s: answer is not JSON: %w", text, err)
		}
	}
	st.printf("  → Slack POST /slack/commands  @%s types `/deploy %s`, signed X-Slack-Signature → %s\n", p.Login, text, resp.Status)
	if answer.Text != "" {
		st.printf("    Slack, only @%s sees:\n", p.Login)
		for _, l := range renderSlack(answer.Text, nil, st.obs.names) {
			st.printf("      │ %s\n", l)
		}
	}
	return answer.Text, nil
}

// slackButton is a button of one of Tollgate's Slack messages about a
// request: the request's external ref that holds the message's
// "channel:ts", the button's action id and its label.
type slackButton struct {
	ref, actionID, label string
}

// The buttons the story clicks.
var (
	approveButton  = slackButton{ref: slackint.RefSlackTS, actionID: slackint.ActionApprove, label: "Approve"}
	reviewOKButton = slackButton{ref: slackint.RefSlackReviewTS, actionID: slackint.ActionReviewAcceptable,
		label: "Review: acceptable"}
)

// click sends p's signed click on button b of the request's Slack message
// (both buttons ask for a confirmation first, which p gives).
func (st *demoStory) click(ctx context.Context, p demoPerson, r bot.Request, b slackButton) error {
	channel, ts, ok := strings.Cut(r.ExternalRefs[b.ref], ":")
	if !ok {
		return fmt.Errorf("request %s has no Slack message with a %s button", r.ID, b.label)
	}
	sl := st.fakes.slack
	m, ok := sl.Message(channel, ts)
	if !ok {
		return fmt.Errorf("the Slack message of request %s is missing", r.ID)
	}
	blockID, value, ok := slacktest.Button(m.Blocks, b.actionID)
	if !ok {
		return fmt.Errorf("the Slack message of request %s has no %s button", r.ID, b.label)
	}
	resp, err := slacktest.BlockAction(ctx, st.base+"/slack/interactions", st.slackSign, slacktest.BlockActionParams{
		UserID: p.SlackID, UserName: p.Login, ChannelID: channel, ChannelName: demoChanName, MessageTS: ts,
		Message: sl.MessagePayload(channel, ts), ActionID: b.actionID, BlockID: blockID, Value: value,
		ButtonText:  b.label,
		ResponseURL: sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: channel, User: p.SlackID, MessageTS: ts}),
	})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	st.printf("  → Slack POST /slack/interactions  @%s clicks [ %s ] and confirms, signed → %s\n", p.Login, b.label, resp.Status)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("the click was answered %s", resp.Status)
	}
	return nil
}

// link links p's Slack account to their GitHub account through the real
// flow: /deploy link, the one-time link, Sign in with Slack (the fake
// signs in as p at once), Tollgate's Slack callback, GitHub's OAuth
// authorize page (the fake approves as p at once), Tollgate's callback.
func (st *demoStory) link(ctx context.Context, p demoPerson) error {
	sl := st.fakes.slack
	resp, err := slacktest.SlashCommand(ctx, st.base+"/slack/commands", st.slackSign, slacktest.SlashCommandParams{
		UserID: p.SlackID, UserName: p.Login, ChannelID: demoChannel, ChannelName: demoChanName, Text: "link",
		ResponseURL: sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: demoChannel, User: p.SlackID}),
	})
	if err != nil {
		return err
	}
	var answer struct {
		Text string `json:"text"`
	}
	err = json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&answer)
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("/deploy link for %s: %w", p.Login, err)
	}
	url := slacktest.LinkURL(answer.Text)
	if url == "" {
		return fmt.Errorf("/deploy link for %s answered without a link: %q", p.Login, answer.Text)
	}
	// p's browser is signed in to Slack and GitHub as p: Tollgate asks
	// Slack first who opened the link, then GitHub which account to link.
	sl.SignInAs(p.SlackID)
	defer sl.SignInAs("")
	st.fakes.gh.AuthorizeAs(p.Login)
	defer st.fakes.gh.AuthorizeAs("")
	jar, _ := cookiejar.New(nil) // a browser of p's own: the flow is bound to it
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	page, err := browser.Do(req)
	if err != nil {
		return fmt.Errorf("linking %s: %w", p.Login, err)
	}
	body, _ := io.ReadAll(io.LimitReader(page.Body, 1<<20))
	page.Body.Close()
	if page.StatusCode != http.StatusOK || !strings.Contains(string(body), "now linked") {
		return fmt.Errorf("linking %s: the callback answered %s", p.Login, page.Status)
	}
	st.printf("  @%-6s /deploy link → one-time link → Sign in with Slack (%s) → GitHub authorize → %s/oauth/github/callback → linked to GitHub %s (id %d)\n",
		p.Login, p.SlackID, st.base, p.Login, st.fakes.gh.UserID(p.Login))
	return nil
}

// flush prints what people would see now.
func (st *demoStory) flush(ctx context.Context) error { return st.obs.flush(ctx) }

// errStory marks a story step that did not behave as the story says.
var errStory = errors.New("the demo story went wrong")

// expect fails the story when cond is false.
func expect(cond bool, format string, args ...any) error {
	if cond {
		return nil
	}
	return fmt.Errorf("%w: %s", errStory, fmt.Sprintf(format, args...))
}

// settle waits until everyone was told how request id ended: its GitHub
// deployment has a final status, its PR comment shows the audit entry,
// and its Slack thread has the closing line with the log link. Tollgate
// tells them after the request's state is stored, so the state alone is
// not enough for a transcript in order.
func (st *demoStory) settle(ctx context.Context, id string) (bot.Request, error) {
	var r bot.Request
	err := st.waitFor(ctx, "GitHub and Slack to hear how "+id+" ended", func(ctx context.Context) (bool, error) {
		var err error
		if r, err = st.srv.Service().Request(ctx, id); err != nil {
			return false, err
		}
		return st.githubTold(r, true) && st.slackThreadHas(r, "/deployments/"+r.ID), nil
	})
	return r, err
}

// githubTold reports whether GitHub shows request r: its deployment (when
// it has one) has a final status if final, and its PR carries its comment
// (with the audit entry if final).
func (st *demoStory) githubTold(r bot.Request, final bool) bool {
	gh := st.fakes.gh
	if final && r.GitHubDeploymentID != 0 {
		done := false
		for _, s := range gh.DeploymentStatuses(demoRepo, r.GitHubDeploymentID) {
			done = done || s == "success" || s == "failure" || s == "error"
		}
		if !done {
			return false
		}
	}
	if r.PR == nil {
		return true
	}
	for _, c := range gh.IssueComments(demoRepo, r.PR.Number) {
		if strings.Contains(c.Body, "tollgate:request "+r.ID+" ") {
			return !final || strings.Contains(c.Body, "Audit entry")
		}
	}
	return false
}

// slackThreadHas reports whether a reply in the thread of r's Slack
// message contains text.
func (st *demoStory) slackThreadHas(r bot.Request, text string) bool {
	channel, ts, ok := strings.Cut(r.ExternalRefs["slack_ts"], ":")
	if !ok {
		return false
	}
	for _, m := range st.fakes.slack.Thread(channel, ts) {
		if strings.Contains(m.Text, text) {
			return true
		}
	}
	return false
}
