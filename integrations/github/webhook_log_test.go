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
	"github.com/tollgate-dev/tollgate/integrations/httpserver"
	"github.com/tollgate-dev/tollgate/store"
)

// TestWebhookLogsNameTheHTTPRequest: behind the server's request logging,
// the intake's own lines (accepted or refused) carry the request id the
// HTTP line has, and still say they come from the GitHub component.
func TestWebhookLogsNameTheHTTPRequest(t *testing.T) {
	ping, err := githubtest.Fixture("ping.payload.json")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, signature, wantMsg string
		wantStatus               int
	}{
		{"stored delivery", githubtest.SignatureSHA256(hookSecret, ping), "webhook stored", http.StatusAccepted},
		{"forged delivery", githubtest.SignatureSHA256("guessed", ping), "webhook refused: missing or wrong X-Hub-Signature-256", http.StatusUnauthorized},
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
			got := postRaw(t, srv.URL, ping, map[string]string{"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-log",
				"X-Hub-Signature-256": tt.signature, httpserver.RequestIDHeader: reqID})
			if got != tt.wantStatus {
				t.Fatalf("status %d, want %d", got, tt.wantStatus)
			}
			var line map[string]any
			for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("log line %q: %v", l, err)
				}
				if m["msg"] == tt.wantMsg {
					line = m
				}
			}
			if line == nil {
				t.Fatalf("no %q line in:\n%s", tt.wantMsg, logs.String())
			}
			if line["request_id"] != reqID || line["component"] != "github" || line["delivery"] != "d-log" {
				t.Fatalf("line %v: want request_id %s, component github, delivery d-log", line, reqID)
			}
		})
	}
}
