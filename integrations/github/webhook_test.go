package github_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	tgh "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/store"
)

// postRaw posts body to the endpoint with the given headers.
func postRaw(t *testing.T, url string, body []byte, headers map[string]string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestWebhookIntakeRefusals(t *testing.T) {
	ping, err := githubtest.Fixture("ping.payload.json")
	if err != nil {
		t.Fatal(err)
	}
	signed := func(body []byte) string { return githubtest.SignatureSHA256(hookSecret, body) }
	oversize := append(append([]byte(`{"zen":"`), bytes.Repeat([]byte("a"), tgh.MaxWebhookBody)...), '"', '}')
	notJSON := []byte(`{"action": "opened", `)
	tests := []struct {
		name    string
		body    []byte
		headers map[string]string
		want    int
	}{
		{"forged signature", ping, map[string]string{"X-Hub-Signature-256": githubtest.SignatureSHA256("guessed-secret", ping)}, http.StatusUnauthorized},
		{"missing signature", ping, map[string]string{}, http.StatusUnauthorized},
		{"only the legacy sha1 signature", ping, map[string]string{"X-Hub-Signature": "sha1=" + strings.Repeat("0", 40)}, http.StatusUnauthorized},
		{"signature not hex", ping, map[string]string{"X-Hub-Signature-256": "sha256=zz"}, http.StatusUnauthorized},
		{"signature of another body", ping, map[string]string{"X-Hub-Signature-256": signed([]byte(`{}`))}, http.StatusUnauthorized},
		{"body over 25 MiB", oversize, map[string]string{"X-Hub-Signature-256": signed(oversize)}, http.StatusRequestEntityTooLarge},
		{"malformed JSON with a valid signature", notJSON, map[string]string{"X-Hub-Signature-256": signed(notJSON)}, http.StatusBadRequest},
		{"a JSON array, not an object", []byte(`[1]`), map[string]string{"X-Hub-Signature-256": signed([]byte(`[1]`))}, http.StatusBadRequest},
		{"missing delivery id", ping, map[string]string{"X-Hub-Signature-256": signed(ping), "X-GitHub-Delivery": ""}, http.StatusBadRequest},
		{"missing event", ping, map[string]string{"X-Hub-Signature-256": signed(ping), "X-GitHub-Event": ""}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newHookWorld(t)
			headers := map[string]string{"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-" + strings.ReplaceAll(tt.name, " ", "-"),
				"Content-Type": "application/json"}
			for k, v := range tt.headers {
				headers[k] = v
			}
			if got := postRaw(t, w.endpoint.URL, tt.body, headers); got != tt.want {
				t.Fatalf("status %d, want %d", got, tt.want)
			}
			if n := w.inboxStates(t); len(n) != 0 {
				t.Fatalf("a refused delivery was stored: %v", n)
			}
			if logs := w.logs.String(); strings.Contains(logs, hookSecret) || strings.Contains(logs, `"zen"`) {
				t.Fatal("the log holds the secret or the body")
			}
		})
	}
}

func TestWebhookOnlyPost(t *testing.T) {
	w := newHookWorld(t)
	resp, err := http.Get(w.endpoint.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET answered %d", resp.StatusCode)
	}
}

func TestNewWebhookHandlerRequiresSecret(t *testing.T) {
	if _, err := tgh.NewWebhookHandler(tgh.WebhookConfig{Inbox: nil, Secret: ""}); err == nil {
		t.Fatal("a handler without a secret was built")
	}
}

func TestDuplicateDeliveryIsStoredOnceAndDeploysOnce(t *testing.T) {
	w := newHookWorld(t)
	w.gh.AddPullRequest(hookRepo, githubtest.PullRequest{Number: 1, Author: "erin", HeadSHA: hookSHA('b')})
	w.gh.MergePullRequest(hookRepo, 1, hookSHA('c'), "alice")
	p, err := w.gh.Payloads().PullRequestMerged(hookRepo, 1, hookSHA('c'), "alice", "main")
	if err != nil {
		t.Fatal(err)
	}
	id := githubtest.NewDeliveryID()
	steps := []struct {
		name     string
		delivery string
		want     int
	}{
		{"first delivery", id, http.StatusAccepted},
		{"redelivery of the same id", id, http.StatusOK},
		{"the same event again under a new id", githubtest.NewDeliveryID(), http.StatusAccepted},
	}
	for _, s := range steps {
		if got := w.send(t, p, s.delivery); got != s.want {
			t.Fatalf("%s: %d, want %d", s.name, got, s.want)
		}
		w.drain(t)
	}
	if got := w.inboxStates(t); got["done"] != 2 || len(got) != 1 {
		t.Fatalf("inbox: %v, want the two distinct deliveries done", got)
	}
	r := w.only(t)
	if r.State != bot.StateQueued {
		t.Fatalf("request %s", r.State)
	}
	if _, err := w.svc.ProcessQueue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(w.deployer.Calls(), "\n"); got != "deploy acme/shop staging ccccccc merge" {
		t.Fatalf("deploys:\n%s", got)
	}
}

func TestUnknownEventIsAcknowledgedAndIgnored(t *testing.T) {
	w := newHookWorld(t)
	for _, ev := range []struct{ event, fixture string }{
		{"push", "push.payload.json"},
		{"check_suite", "check_suite.completed.payload.json"},
		{"ping", "ping.payload.json"},
		{"made_up_event", "ping.payload.json"},
	} {
		p, err := githubtest.LoadPayload(ev.event, ev.fixture)
		w.deliver(t, p, err)
	}
	p, err := w.gh.Payloads().PullRequestUnlabeled(hookRepo, 9, "deploy:preview", "alice")
	w.deliver(t, p, err) // a known event with an action Tollgate does not act on
	if got := w.inboxStates(t); got["done"] != 5 || len(got) != 1 {
		t.Fatalf("inbox: %v, want all five done", got)
	}
	if rs := w.requests(t); len(rs) != 0 {
		t.Fatalf("an ignored event made requests: %+v", rs)
	}
}

func TestUndecodablePayloadFailsWithoutRetry(t *testing.T) {
	w := newHookWorld(t)
	// Valid JSON, but not a pull_request event: pull_request must be an object.
	p := githubtest.Payload{Event: "pull_request", Fields: map[string]any{"action": "closed", "pull_request": "merged!"}}
	w.deliver(t, p, nil)
	if got := w.inboxStates(t); got["failed"] != 1 {
		t.Fatalf("inbox: %v, want the delivery failed", got)
	}
	if !strings.Contains(w.logs.String(), `"msg":"delivery failed permanently; left in the inbox"`) {
		t.Fatal("the failure was not logged")
	}
}

// movableClock is a clock tests move forward.
type movableClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *movableClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *movableClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestRestartWithDeliveriesInTheInbox(t *testing.T) {
	ctx := context.Background()
	clock := &movableClock{t: time.Now()}
	w := newHookWorld(t)
	w.stop(t)
	w.now = clock.Now
	w.start(t)

	w.gh.AddPullRequest(hookRepo, githubtest.PullRequest{Number: 1, Author: "erin", HeadSHA: hookSHA('b')})
	w.gh.MergePullRequest(hookRepo, 1, hookSHA('c'), "alice")
	w.gh.AddPullRequest(hookRepo, githubtest.PullRequest{Number: 2, Author: "erin", HeadSHA: hookSHA('d')})
	depID, err := w.gh.CreateDeployment(hookRepo, "main", "production", "bob")
	if err != nil {
		t.Fatal(err)
	}
	var payloads []githubtest.Payload
	for _, build := range []func() (githubtest.Payload, error){
		func() (githubtest.Payload, error) {
			return w.gh.Payloads().PullRequestMerged(hookRepo, 1, hookSHA('c'), "alice", "main")
		},
		func() (githubtest.Payload, error) {
			return w.gh.Payloads().PullRequestLabeled(hookRepo, 2, "deploy:preview", "bob")
		},
		func() (githubtest.Payload, error) { return w.gh.Payloads().DeploymentCreated(hookRepo, depID) },
	} {
		p, err := build()
		if err != nil {
			t.Fatal(err)
		}
		payloads = append(payloads, p)
	}
	ids := []string{githubtest.NewDeliveryID(), githubtest.NewDeliveryID(), githubtest.NewDeliveryID()}
	for i, p := range payloads {
		if code := w.send(t, p, ids[i]); code != http.StatusAccepted {
			t.Fatalf("delivery %d answered %d", i, code)
		}
	}
	// A worker takes the first delivery and the process dies before it
	// records anything.
	if claimed, err := w.store.ClaimDue(ctx, clock.Now(), 1); err != nil || len(claimed) != 1 {
		t.Fatalf("claim: %v %v", claimed, err)
	}
	w.stop(t)

	w.start(t) // a new process on the same database file
	w.drain(t)
	if got := w.inboxStates(t); got["done"] != 2 || got["pending"] != 1 {
		t.Fatalf("after restart: %v, want the leased delivery to wait for its lease", got)
	}
	clock.Add(5 * time.Minute) // past the lease of the dead worker
	w.drain(t)
	if got := w.inboxStates(t); got["done"] != 3 || len(got) != 1 {
		t.Fatalf("after the lease ran out: %v", got)
	}
	// GitHub redelivers one of them after the restart: answered, not redone.
	if code := w.send(t, payloads[1], ids[1]); code != http.StatusOK {
		t.Fatalf("redelivery answered %d", code)
	}
	w.drain(t)

	var got []string
	for _, r := range w.requests(t) {
		got = append(got, fmt.Sprintf("%s %s %s", r.Trigger, r.Environment, r.SHA[:7]))
	}
	slices.Sort(got)
	want := []string{"github_deployment production ccccccc", "label preview ddddddd", "merge staging ccccccc"}
	if !slices.Equal(got, want) {
		t.Fatalf("requests after restart:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// BenchmarkWebhookIntake measures a signed delivery's round trip through
// the intake (verify, store in SQLite, answer 202): the "within
// milliseconds" target.
func BenchmarkWebhookIntake(b *testing.B) {
	gh := githubtest.New()
	defer gh.Close()
	st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "tollgate.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	h, err := tgh.NewWebhookHandler(tgh.WebhookConfig{Secret: hookSecret, Inbox: st})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	body, err := githubtest.Fixture("pull_request.closed.payload.json")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ResetTimer()
	for b.Loop() {
		resp, err := gh.SendWebhook(context.Background(), srv.URL, hookSecret, "pull_request", body)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
