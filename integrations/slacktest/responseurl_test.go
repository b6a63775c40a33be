package slacktest

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"
)

func TestResponseURL(t *testing.T) {
	tests := []struct {
		name  string
		post  func(s *Server, responseURL string) error
		check func(t *testing.T, s *Server, clickedTS string)
	}{
		{
			name: "ephemeral reply via slack.PostWebhook",
			post: func(s *Server, u string) error {
				return slack.PostWebhookContext(t.Context(), u, &slack.WebhookMessage{Text: "you are not an approver"})
			},
			check: func(t *testing.T, s *Server, _ string) {
				got := s.Ephemerals(bob)
				if len(got) != 1 || got[0].Text != "you are not an approver" || got[0].Via != MethodResponseURL {
					t.Errorf("Ephemerals(bob) = %+v, want the reply", got)
				}
				if len(s.Messages(testChannel)) != 1 {
					t.Error("an ephemeral response was posted to the channel")
				}
			},
		},
		{
			name: "in_channel reply via slack-go response URL option",
			post: func(s *Server, u string) error {
				_, _, err := s.Client().PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("deploy #7 requested", false),
					slack.MsgOptionResponseURL(u, slack.ResponseTypeInChannel))
				return err
			},
			check: func(t *testing.T, s *Server, _ string) {
				msgs := s.Messages(testChannel)
				if len(msgs) != 2 || msgs[1].Text != "deploy #7 requested" {
					t.Errorf("channel = %+v, want the in_channel reply after the original", msgs)
				}
			},
		},
		{
			name: "replace_original via plain HTTP",
			post: func(s *Server, u string) error {
				return postJSON(u, `{"replace_original":true,"text":"approved by bob","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"approved"}}]}`)
			},
			check: func(t *testing.T, s *Server, ts string) {
				m, _ := s.Message(testChannel, ts)
				if m.Text != "approved by bob" || len(m.History) != 2 || !strings.Contains(string(m.Blocks), "approved") {
					t.Errorf("message = %+v, want it replaced in place", m)
				}
			},
		},
		{
			name: "delete_original",
			post: func(s *Server, u string) error {
				return slack.PostWebhookContext(t.Context(), u, &slack.WebhookMessage{DeleteOriginal: true})
			},
			check: func(t *testing.T, s *Server, ts string) {
				if m, ok := s.Message(testChannel, ts); !ok || !m.Deleted || len(s.Messages(testChannel)) != 0 {
					t.Errorf("message = %+v, want it deleted", m)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestServer(t, Options{})
			_, ts, err := s.Client().PostMessageContext(t.Context(), testChannel, slack.MsgOptionText("awaiting approval", false))
			if err != nil {
				t.Fatalf("post original: %v", err)
			}
			u := s.NewResponseURLFor(ResponseTarget{Channel: testChannel, User: bob, MessageTS: ts})
			if err := tt.post(s, u); err != nil {
				t.Fatalf("post to response_url: %v", err)
			}
			if posts := s.ResponseURLPosts(u); len(posts) != 1 || len(posts[0].Body) == 0 {
				t.Errorf("ResponseURLPosts = %+v, want the one post recorded", posts)
			}
			tt.check(t, s, ts)
		})
	}
}

func postJSON(u, body string) error {
	resp, err := http.Post(u, "application/json", strings.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &slack.StatusCodeError{Code: resp.StatusCode, Status: resp.Status}
	}
	return nil
}

func TestResponseURLLimits(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := newTestServer(t, Options{Now: clock})

	used := s.NewResponseURL()
	for i := range 5 {
		if err := postJSON(used, `{"text":"ok"}`); err != nil {
			t.Fatalf("use %d: %v", i+1, err)
		}
	}
	expired := s.NewResponseURL()
	mu.Lock()
	now = now.Add(31 * time.Minute)
	mu.Unlock()

	tests := []struct {
		name, url, body string
		wantStatus      int
		wantError       string
	}{
		{"sixth use", used, `{"text":"again"}`, http.StatusNotFound, "used_url"},
		{"after thirty minutes", expired, `{"text":"late"}`, http.StatusNotFound, "expired_url"},
		{"never minted", s.URL + "/response/R99999999", `{"text":"x"}`, http.StatusNotFound, "expired_url"},
		{"not JSON", s.NewResponseURL(), `text=x`, http.StatusBadRequest, "invalid_payload"},
		{"nothing to show", s.NewResponseURL(), `{"response_type":"in_channel"}`, http.StatusBadRequest, "no_text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Post(tt.url, "application/json", bytes.NewReader([]byte(tt.body)))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			calls := s.CallsTo(MethodResponseURL)
			last := calls[len(calls)-1]
			if resp.StatusCode != tt.wantStatus || last.Error != tt.wantError {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, last.Error, tt.wantStatus, tt.wantError)
			}
		})
	}
	if n := len(s.ResponseURLPosts(used)); n != 5 {
		t.Errorf("%d posts accepted on the used URL, want 5", n)
	}
}
