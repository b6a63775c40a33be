package main

// The world of TestServeSlackApprovalDeploysToProduction and the Slack
// user's side of it: commands, OAuth linking and clicks, signed like Slack.

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy/sshdtest"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/store"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const (
	slackE2ESecret  = "e2e-slack-signing-secret-for-production"
	slackE2EChannel = "C0DEPLOYS01"
	slackE2EProdURL = "https://shop.example.com"
)

// slackE2EPerson is someone who uses Tollgate from Slack, linked to the
// GitHub login of the same name.
type slackE2EPerson struct{ login, slackID string }

// The cast: alice deploys and approves, bob wrote PR #4 and approves,
// carol approves; dave reviewed the PR. alice and bob are approvers, so
// their refusals are separation of duties, not a missing team.
var (
	slackAlice = slackE2EPerson{"alice", "U0ALICE01"}
	slackBob   = slackE2EPerson{"bob", "U0BOB0001"}
	slackCarol = slackE2EPerson{"carol", "U0CAROL01"}
)

// slackE2E is the serve e2e world with Slack (the fake) and a production
// environment of two real sshd servers.
type slackE2E struct {
	*e2e
	sl    *slacktest.Server
	roots []string // production's deploy path on each server
	addrs []string // production's servers, host:port
}

func newSlackE2E(t *testing.T) *slackE2E {
	t.Helper()
	return newSlackE2EWith(t, e2eOptions{webLogin: true})
}

// newSlackE2EWith is newSlackE2E with opts for the e2e world beneath.
func newSlackE2EWith(t *testing.T, opts e2eOptions) *slackE2E {
	t.Helper()
	w := &slackE2E{e2e: newE2E(t, opts), sl: slacktest.New(slacktest.Options{})}
	t.Cleanup(w.sl.Close)
	w.sl.AddChannel(slackE2EChannel, "deploys")
	for _, p := range []slackE2EPerson{slackAlice, slackBob, slackCarol} {
		w.sl.AddUser(p.slackID, p.login)
	}
	gh := w.gh
	gh.SetTeamMember("acme", "approvers", "alice", "")
	gh.SetTeamMember("acme", "approvers", "bob", "")
	gh.SetCollaborator(e2eRepo, "dave", "write") // only reviews by people with write access count
	gh.AddReview(e2eRepo, 4, githubtest.Review{User: "dave", State: "APPROVED", Body: "Ship it."})
	gh.SetStatus(e2eRepo, sha('c'), "build", "success")

	pub := writeTestSSHKey(t, filepath.Join(w.dir, "production_ed25519"), "")
	servers := sshdtest.StartN(t, 2, pub)
	sshdtest.WriteKnownHosts(t, filepath.Join(w.dir, "known_hosts_production"), servers...)
	var list strings.Builder
	for i, s := range servers {
		root := filepath.Join(t.TempDir(), "shop-web"+strconv.Itoa(i+1))
		w.roots, w.addrs = append(w.roots, root), append(w.addrs, s.Addr())
		fmt.Fprintf(&list, "          - host: %s\n            port: %d\n            user: %s\n            path: %s\n", s.Host, s.Port, s.User, root)
	}
	w.writeConfig(t, "")
	cfg := strings.Replace(readTestFile(t, w.configPath), "repositories:", `slack:
  api_url: `+w.sl.APIURL()+`
  response_url_base: `+w.sl.ResponseURLBase()+`
  web_url: `+w.sl.WebURL()+`
  bot_token: `+w.sl.BotToken()+`
  signing_secret: `+slackE2ESecret+`
  client_id: "`+w.sl.ClientID()+`"
  client_secret: `+w.sl.ClientSecret()+`
  channel: `+slackE2EChannel+`
  channels:
    `+slackE2EChannel+`: `+e2eRepo+`
repositories:`, 1)
	cfg += `      production:
        production: true
        deployers: [deployers]
        approvers: [approvers]
        required_approvals: 1
        approval_ttl: 1h
        branches: [main]
        require:
          pr_review: true
          checks: [build]
        servers:
` + list.String() + `        ssh:
          private_key_file: production_ed25519
          known_hosts_file: known_hosts_production
        health_check:
          command: ./bin/health
          interval: 100ms
        environment_url: ` + slackE2EProdURL + "\n"
	writeTestFile(t, w.configPath, cfg)
	return w
}

// slash sends p's signed /deploy text from the deploy channel and returns
// the answer only p sees.
func (w *slackE2E) slash(t *testing.T, p slackE2EPerson, text string) string {
	t.Helper()
	resp, err := slacktest.SlashCommand(context.Background(), w.url("/slack/commands"), slackE2ESecret, slacktest.SlashCommandParams{
		TeamID: w.sl.TeamID(), UserID: p.slackID, UserName: p.login, ChannelID: slackE2EChannel, Text: text,
		ResponseURL: w.sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: slackE2EChannel, User: p.slackID}),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var answer struct {
		Text string `json:"text"`
	}
	if resp.StatusCode != http.StatusOK || (len(body) > 0 && json.Unmarshal(body, &answer) != nil) {
		t.Fatalf("/deploy %s by %s answered %d %q", text, p.login, resp.StatusCode, body)
	}
	return answer.Text
}

// link links p through the real flow: /deploy link, the one-time link,
// Sign in with Slack (the fake signs in as p), Tollgate's Slack callback,
// GitHub's authorize page (the fake approves as p), the GitHub callback.
func (w *slackE2E) link(t *testing.T, p slackE2EPerson) {
	t.Helper()
	code, page, at := w.openLink(t, w.linkURL(t, p), p.slackID, p.login)
	if code != http.StatusOK || !strings.Contains(page, "now linked to GitHub user "+p.login) {
		t.Fatalf("linking %s ended at %s with %d:\n%s", p.login, at, code, page)
	}
}

// linkURL runs /deploy link as p and returns the path of the link it gives.
func (w *slackE2E) linkURL(t *testing.T, p slackE2EPerson) string {
	t.Helper()
	link := slacktest.LinkURL(w.slash(t, p, "link"))
	path, ok := strings.CutPrefix(link, e2ePublic+slackint.PathOAuthStart+"?")
	if !ok {
		t.Fatalf("/deploy link for %s gave no link to %s%s: %q", p.login, e2ePublic, slackint.PathOAuthStart, link)
	}
	return slackint.PathOAuthStart + "?" + path
}

// openLink opens a link path in a fresh browser signed in to Slack as
// slackID and to GitHub as login, and follows it to the end.
func (w *slackE2E) openLink(t *testing.T, path, slackID, login string) (int, string, *url.URL) {
	t.Helper()
	w.sl.SignInAs(slackID)
	defer w.sl.SignInAs("")
	return w.browse(t, login, path)
}

// click sends p's signed click on the button actionID of the message at ts.
func (w *slackE2E) click(t *testing.T, p slackE2EPerson, ts, actionID, label string) {
	t.Helper()
	m, ok := w.sl.Message(slackE2EChannel, ts)
	if !ok {
		t.Fatalf("no message %s in %s", ts, slackE2EChannel)
	}
	blockID, value, ok := slacktest.Button(m.Blocks, actionID)
	if !ok {
		t.Fatalf("the message has no %s button: %s", label, m.Blocks)
	}
	w.sendClick(t, p, ts, actionID, blockID, value, label)
}

// sendClick sends p's signed click on a button of the message at ts, by
// its action id, block id and value, whether or not the message shows it.
func (w *slackE2E) sendClick(t *testing.T, p slackE2EPerson, ts, actionID, blockID, value, label string) {
	t.Helper()
	resp, err := slacktest.BlockAction(context.Background(), w.url("/slack/interactions"), slackE2ESecret, slacktest.BlockActionParams{
		TeamID: w.sl.TeamID(), UserID: p.slackID, UserName: p.login, ChannelID: slackE2EChannel, MessageTS: ts,
		Message: w.sl.MessagePayload(slackE2EChannel, ts), ActionID: actionID, BlockID: blockID, Value: value, ButtonText: label,
		ResponseURL: w.sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: slackE2EChannel, User: p.slackID, MessageTS: ts}),
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s's click on %s answered %d", p.login, label, resp.StatusCode)
	}
}

// ephemeral waits for the nth message only p sees (1-based) and returns it.
func (w *slackE2E) ephemeral(t *testing.T, p slackE2EPerson, n int) string {
	t.Helper()
	var es []slacktest.Ephemeral
	waitFor(t, fmt.Sprintf("message %d shown to %s", n, p.login), func() bool {
		es = w.sl.Ephemerals(p.slackID)
		return len(es) >= n
	})
	return es[n-1].Text
}

// approvalMessage waits for the message in the deploy channel with an
// Approve button and returns it.
func (w *slackE2E) approvalMessage(t *testing.T) slacktest.Message {
	t.Helper()
	msg, _ := w.approvalMessageNotOf(t, nil)
	return msg
}

// approvalMessageNotOf waits for a message in the deploy channel with an
// Approve button for a request not in seen, and returns it and the
// request's id.
func (w *slackE2E) approvalMessageNotOf(t *testing.T, seen []string) (slacktest.Message, string) {
	t.Helper()
	var msg slacktest.Message
	var id string
	waitFor(t, "the approval message", func() bool {
		for _, m := range w.sl.Messages(slackE2EChannel) {
			if _, value, ok := slacktest.Button(m.Blocks, slackint.ActionApprove); ok {
				if rid, _, _ := strings.Cut(value, ":"); !slices.Contains(seen, rid) {
					msg, id = m, rid
					return true
				}
			}
		}
		return false
	})
	return msg, id
}

// request reads request id from the database while serve runs.
func (w *slackE2E) request(t *testing.T, id string) bot.Request {
	t.Helper()
	st, err := store.OpenReadOnly(context.Background(), w.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := st.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// threadTexts is the text of every reply in the thread of the message at ts.
func (w *slackE2E) threadTexts(ts string) []string {
	var out []string
	for _, m := range w.sl.Thread(slackE2EChannel, ts) {
		out = append(out, m.Text)
	}
	return out
}

// currentOn returns the release production's current link points to on server i.
func (w *slackE2E) currentOn(t *testing.T, i int) string {
	t.Helper()
	l, err := os.Readlink(filepath.Join(w.roots[i], "current"))
	if err != nil {
		t.Fatalf("production's current on %s: %v", w.addrs[i], err)
	}
	return strings.TrimPrefix(l, "releases/")
}

var (
	slackDateToken = regexp.MustCompile(`<!date\^(\d+)\^([^|>]*)\|[^>]*>`)
	rfc3339Stamp   = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)
)

// normalisedBlocks makes blocks comparable across runs: the request id,
// its nonce, the fake GitHub's address and the real clock's times vary.
func normalisedBlocks(t *testing.T, blocks json.RawMessage, fixed *strings.Replacer) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(blocks, &v); err != nil {
		t.Fatalf("blocks are not JSON: %v", err)
	}
	var walk func(v any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case string:
			x = slackDateToken.ReplaceAllString(fixed.Replace(x), "<!date^EXPIRES^$2|EXPIRES>")
			return rfc3339Stamp.ReplaceAllString(x, "TIME")
		case []any:
			for i := range x {
				x[i] = walk(x[i])
			}
		case map[string]any:
			for k := range x {
				x[k] = walk(x[k])
			}
		}
		return v
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(walk(v)); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// goldenFile compares got with testdata/golden/name, or rewrites it with -update.
func goldenFile(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *updateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the golden file (go test -run %s -update writes it): %v", t.Name(), err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file; got:\n%s", path, got)
	}
}

// containsInOrder reports whether want appears in have in order, other items between.
func containsInOrder(have, want []string) bool {
	i := 0
	for _, h := range have {
		if i < len(want) && h == want[i] {
			i++
		}
	}
	return i == len(want)
}
