package github_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	tgh "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/internal/httpserver"
	"github.com/tollgate-dev/tollgate/store"
)

// TestWebhookLogsNameTheHTTPRequest: behind the server's request logging,
// a delivery (stored, resent or refused) is one log line: the access line,
// with its request id once, saying it comes from the GitHub component and
// what the intake learned, and never the payload.
func TestWebhookLogsNameTheHTTPRequest(t *testing.T) {
	ping, err := githubtest.Fixture("ping.payload.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, signature string
		sends           int // the same delivery, one after another
		wantStatus      int
		wantLevel       string
		wantAttrs       map[string]any
	}{
		{"stored delivery", githubtest.SignatureSHA256(hookSecret, ping), 1, http.StatusAccepted, "INFO",
			map[string]any{"outcome": "stored", "repo": "Octocoders/Hello-World"}},
		{"resent delivery", githubtest.SignatureSHA256(hookSecret, ping), 2, http.StatusOK, "INFO",
			map[string]any{"outcome": "duplicate"}},
		{"forged delivery", githubtest.SignatureSHA256("guessed", ping), 1, http.StatusUnauthorized, "WARN",
			map[string]any{"refused": "missing or wrong X-Hub-Signature-256"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "tollgate.db"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			logs := &lockedBuffer{}
			base := slog.New(slog.NewJSONHandler(logs, nil))
			h, err := tgh.NewWebhookHandler(tgh.WebhookConfig{Secret: hookSecret, Inbox: st, Logger: base.With("component", "github")})
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(httpserver.Logging(base, h))
			t.Cleanup(srv.Close)
			reqID := "req-" + string(rune('a'+i))
			for range tt.sends - 1 {
				postRaw(t, srv.URL, ping, map[string]string{"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-log",
					"X-Hub-Signature-256": tt.signature, httpserver.RequestIDHeader: "earlier"})
			}
			before := len(logs.String())
			got := postRaw(t, srv.URL, ping, map[string]string{"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-log",
				"X-Hub-Signature-256": tt.signature, httpserver.RequestIDHeader: reqID})
			if got != tt.wantStatus {
				t.Fatalf("status %d, want %d", got, tt.wantStatus)
			}
			raw := strings.TrimSpace(logs.String()[before:])
			if n := strings.Count(raw, "\n") + 1; n != 1 {
				t.Fatalf("%d log lines for one delivery, want 1:\n%s", n, raw)
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(raw), &line); err != nil {
				t.Fatalf("log line %q: %v", raw, err)
			}
			if line["msg"] != "http request" || line["level"] != tt.wantLevel || line["request_id"] != reqID ||
				line["component"] != "github" || line["delivery"] != "d-log" || line["event"] != "ping" {
				t.Fatalf("line %v: want the %s access line with request_id %s, component github, delivery d-log, event ping",
					line, tt.wantLevel, reqID)
			}
			for k, v := range tt.wantAttrs {
				if line[k] != v {
					t.Errorf("%s = %v, want %v", k, line[k], v)
				}
			}
			if n := strings.Count(raw, `"request_id"`); n != 1 {
				t.Errorf("request_id %d times: %s", n, raw)
			}
			if strings.Contains(raw, "zen") || strings.Contains(raw, hookSecret) {
				t.Errorf("payload or secret logged: %s", raw)
			}
		})
	}
}
