package github_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	gogh "github.com/google/go-github/v60/github"

	"github.com/tollgate-dev/tollgate/bot"
	tgh "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/internal/inbox"
	"github.com/tollgate-dev/tollgate/store"
)

const fuzzSecret = "fuzz-webhook-secret"

// validHeaderValue reports whether net/http would send v as a header value;
// the handler never sees anything else.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return len(v) < 4096
}

func fuzzSign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// addFixtureSeeds adds the recorded GitHub deliveries as seeds.
func addFixtureSeeds(f *testing.F, add func(event string, body []byte)) {
	for _, name := range []string{"pull_request.closed", "issue_comment.created", "deployment",
		"membership.removed", "organization.member_added", "installation.created", "ping"} {
		body, err := os.ReadFile(filepath.Join("..", "githubtest", "testdata", "github-webhooks", name+".payload.json"))
		if err != nil {
			f.Fatal(err)
		}
		event, _, _ := bytes.Cut([]byte(name), []byte("."))
		add(string(event), body)
	}
}

// FuzzWebhookIntake posts arbitrary bodies through the real intake handler
// into a real SQLite inbox. A validly signed delivery is answered 202 and
// stored byte for byte, or refused 400 with nothing stored: never a 5xx,
// which GitHub would retry forever. A badly signed one is a 401 that stores
// nothing.
func FuzzWebhookIntake(f *testing.F) {
	addFixtureSeeds(f, func(event string, body []byte) { f.Add(event, body, false) })
	f.Add("pull_request", []byte(`{"action":"closed","repository":{"full_name":"acme/shop"},"installation":{"id":1}}`), false)
	f.Add("push", []byte(`null`), false)
	f.Add("issue_comment", []byte(`[1,2]`), false)
	f.Add("", []byte(`{}`), false)
	f.Add("deployment", []byte(`{"installation":{"id":"x"}}`), false)
	f.Add("ping", []byte(`{}`), true)

	st, err := store.Open(context.Background(), filepath.Join(f.TempDir(), "fuzz.db"), store.Options{Synchronous: "OFF"})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	h, err := tgh.NewWebhookHandler(tgh.WebhookConfig{Secret: fuzzSecret, Inbox: st})
	if err != nil {
		f.Fatal(err)
	}
	var n atomic.Int64

	f.Fuzz(func(t *testing.T, event string, body []byte, forged bool) {
		if !validHeaderValue(event) {
			return
		}
		delivery := fmt.Sprintf("fuzz-%d", n.Add(1))
		secret := fuzzSecret
		if forged {
			secret = "not-the-secret"
		}
		req := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
		req.Header.Set("X-GitHub-Delivery", delivery)
		req.Header.Set("X-GitHub-Event", event)
		req.Header.Set("X-Hub-Signature-256", fuzzSign(secret, body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		var stored []byte
		var storedEvent string
		err := st.DB().QueryRow(`SELECT payload, event_type FROM inbox WHERE delivery_id = ?`, delivery).Scan(&stored, &storedEvent)
		found := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatalf("read inbox: %v", err)
		}
		switch code := rec.Code; {
		case forged:
			if code != http.StatusUnauthorized || found {
				t.Fatalf("forged delivery: status %d, stored %v", code, found)
			}
		case code == http.StatusAccepted:
			if !found || !bytes.Equal(stored, body) || storedEvent != event {
				t.Fatalf("202 but the inbox holds %q/%q (found %v), want %q/%q", storedEvent, stored, found, event, body)
			}
			if !json.Valid(body) {
				t.Fatalf("202 for a body that is not JSON: %q", body)
			}
		case code == http.StatusBadRequest:
			if found {
				t.Fatalf("400 but the delivery was stored")
			}
		default:
			t.Fatalf("status %d for a validly signed delivery (event %q, body %q): %s", code, event, body, rec.Body)
		}
	})
}

// fuzzBot refuses everything, as the domain does for strangers, and counts calls.
type fuzzBot struct{ calls atomic.Int64 }

func (b *fuzzBot) refuse() error {
	b.calls.Add(1)
	return &bot.Refusal{Code: bot.CodeNotDeployer, Reason: "fuzz"}
}

func (b *fuzzBot) Submit(context.Context, bot.NewRequest) (bot.Outcome, error) {
	return bot.Outcome{}, b.refuse()
}

func (b *fuzzBot) Request(context.Context, string) (bot.Request, error) {
	b.calls.Add(1)
	return bot.Request{}, bot.ErrNotFound
}

func (b *fuzzBot) Approve(context.Context, bot.ApproveInput) (bot.Request, error) {
	return bot.Request{}, b.refuse()
}

func (b *fuzzBot) Reject(context.Context, string, bot.Identity, string) (bot.Request, error) {
	return bot.Request{}, b.refuse()
}

func (b *fuzzBot) RefusalsExhausted(context.Context, bot.Identity) (bool, error) { return false, nil }

func (b *fuzzBot) RefuseOutsider(context.Context, bot.Identity, string, string) (bool, error) {
	b.calls.Add(1)
	return true, nil
}

// Routing of the fuzzed deliveries: merges to main deploy staging, the
// deploy:production label production, of acme/shop only.
func (b *fuzzBot) ForMerge(repo, branch string) []string {
	if repo == hookRepo && branch == "main" {
		return []string{"staging"}
	}
	return nil
}

func (b *fuzzBot) ForLabel(repo, label string) (string, bool) {
	return "production", repo == hookRepo && label == "deploy:production"
}

func (b *fuzzBot) ForDeploymentEvent(repo, env string) bool {
	return repo == hookRepo && (env == "staging" || env == "production")
}

// fuzzSideEffects records the dispatcher's other outputs.
type fuzzSideEffects struct {
	mu    sync.Mutex
	calls []string
}

func (s *fuzzSideEffects) add(what string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, what)
}

func (s *fuzzSideEffects) ReactEyes(context.Context, string, int64) error { s.add("eyes"); return nil }
func (s *fuzzSideEffects) ReplyToComment(context.Context, string, int, string) error {
	s.add("reply")
	return nil
}
func (s *fuzzSideEffects) Invalidate(string) { s.add("invalidate") }
func (s *fuzzSideEffects) AppendAudit(context.Context, ...bot.AuditEvent) error {
	s.add("audit")
	return nil
}

func (s *fuzzSideEffects) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.calls)
}

// fuzzEvents are the events the dispatcher decodes, plus two it ignores.
var fuzzEvents = []string{"pull_request", "issue_comment", "deployment", "deployment_protection_rule",
	"membership", "organization", "installation", "ping", "push"}

// FuzzDispatchDecode hands arbitrary stored payloads to the dispatcher.
// It must never panic; a payload go-github cannot decode must be a
// permanent failure (never retried) that reached nothing; with
// dependencies that never fail, every other outcome is done (nil).
func FuzzDispatchDecode(f *testing.F) {
	addFixtureSeeds(f, func(event string, body []byte) {
		for i, e := range fuzzEvents {
			if e == event {
				f.Add(uint8(i), body)
			}
		}
	})
	f.Add(uint8(0), []byte(`{"action":"closed","pull_request":{"merged":true,"base":{"ref":"main"}},"repository":{"full_name":"acme/shop"}}`))
	f.Add(uint8(1), []byte(`{"action":"created","comment":{"body":"/deploy production"},"issue":{"number":1,"pull_request":{}},"repository":{"full_name":"acme/shop"}}`))
	f.Add(uint8(3), []byte(`{"action":"requested","environment":"production","repository":{"full_name":"acme/shop"}}`))
	f.Add(uint8(4), []byte(`{"action":"removed","member":{"login":"x"}}`))
	f.Add(uint8(2), []byte(`"x"`))

	b := &fuzzBot{}
	fx := &fuzzSideEffects{}
	d, err := tgh.NewDispatcher(tgh.DispatcherConfig{Bot: b, AppID: 1, Reactor: fx, Replier: fx, Members: fx, Audit: fx})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, ev uint8, payload []byte) {
		event := fuzzEvents[int(ev)%len(fuzzEvents)]
		before, beforeFx := b.calls.Load(), fx.count()
		err := d.Handle(context.Background(), inbox.Item{ID: 1, Source: "github", DeliveryID: "d", EventType: event, Payload: payload})
		if _, perr := gogh.ParseWebHook(event, payload); perr != nil && event != "ping" && event != "push" {
			if !inbox.IsPermanent(err) {
				t.Fatalf("%s payload go-github cannot decode (%v) gave a retryable result: %v", event, perr, err)
			}
			if b.calls.Load() != before || fx.count() != beforeFx {
				t.Fatalf("undecodable %s payload reached the bot or GitHub", event)
			}
			return
		}
		if err != nil && !inbox.IsPermanent(err) {
			t.Fatalf("%s: retryable error with dependencies that never fail: %v", event, err)
		}
	})
}
