package slack_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	tgslack "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/internal/httpserver"
)

// syncBuffer is a log destination safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSlackRequestIsOneLogLine: behind the server's request logging, a
// Slack command (persisted, answered at once or forged) is one log line,
// the access line, naming the request once, saying it is Slack's and what
// the transport learned, and never the command's text or the secret.
func TestSlackRequestIsOneLogLine(t *testing.T) {
	w := newWorld(t)
	w.linkAll()
	var logs syncBuffer
	logged := httptest.NewServer(httpserver.Logging(slog.New(slog.NewJSONHandler(&logs, nil)), w.srv.Config.Handler))
	t.Cleanup(logged.Close)

	tests := []struct {
		name, user, text string
		opts             []slacktest.SendOption
		wantLevel        string
		wantAttrs        map[string]any
		absent           []string // keys the line must not have
	}{
		{"deploy command persisted", "U0ALICE", "production", nil, "INFO",
			map[string]any{"slack_user": "U0ALICE", "slack_command": "/deploy", "subcommand": "deploy", "slack_event": "command", "outcome": "stored"},
			[]string{"refused"}},
		{"help answered at once", "U0ALICE", "help", nil, "INFO",
			map[string]any{"slack_user": "U0ALICE", "subcommand": "help"}, []string{"outcome", "refused"}},
		{"forged command", "U0ALICE", "production", []slacktest.SendOption{slacktest.WithTamper(func(b []byte) []byte {
			return append(b, "&x=1"...)
		})}, "WARN", map[string]any{"refused": "signature mismatch", "path": tgslack.PathCommands}, []string{"slack_user", "outcome"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reqID := "slack-req-" + string(rune('a'+i))
			opts := append([]slacktest.SendOption{slacktest.WithHeaders(func(h http.Header) { h.Set(httpserver.RequestIDHeader, reqID) })}, tt.opts...)
			before := len(logs.String())
			p := slacktest.SlashCommandParams{UserID: tt.user, UserName: people[tt.user], ChannelID: channel, Text: tt.text,
				ResponseURL: w.sl.NewResponseURLFor(slacktest.ResponseTarget{Channel: channel, User: tt.user})}
			resp, err := slacktest.SlashCommand(context.Background(), logged.URL+tgslack.PathCommands, signingSecret, p, opts...)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			raw := strings.TrimSpace(logs.String()[before:])
			if n := strings.Count(raw, "\n") + 1; n != 1 {
				t.Fatalf("%d log lines for one request, want 1:\n%s", n, raw)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(raw), &line); err != nil {
				t.Fatalf("log line %q: %v", raw, err)
			}
			if line["msg"] != "http request" || line["level"] != tt.wantLevel || line["request_id"] != reqID || line["component"] != "slack" {
				t.Fatalf("line %v: want the %s access line with request_id %s, component slack", line, tt.wantLevel, reqID)
			}
			for k, v := range tt.wantAttrs {
				if line[k] != v {
					t.Errorf("%s = %v, want %v", k, line[k], v)
				}
			}
			for _, k := range tt.absent {
				if _, ok := line[k]; ok {
					t.Errorf("line has %s: %v", k, line)
				}
			}
			for _, s := range []string{`"request_id"`, `"component"`} {
				if n := strings.Count(raw, s); n != 1 {
					t.Errorf("%s %d times: %s", s, n, raw)
				}
			}
			if strings.Contains(raw, "response_url") || strings.Contains(raw, "hooks") || strings.Contains(raw, signingSecret) {
				t.Errorf("body or secret logged: %s", raw)
			}
		})
	}
}
