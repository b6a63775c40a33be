package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/integrations/httpserver"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
)

// TestServeLogLinesNameTheHTTPRequest: what the GitHub and Slack
// transports log about a request carries the id the server gave it (and
// answered in X-Request-Id), so an operator can follow one request.
func TestServeLogLinesNameTheHTTPRequest(t *testing.T) {
	sl := slacktest.New(slacktest.Options{})
	t.Cleanup(sl.Close)
	e := newE2E(t, e2eOptions{})
	withSlack := strings.Replace(readTestFile(t, e.configPath), "repositories:", `slack:
  api_url: `+sl.APIURL()+`
  bot_token: `+sl.BotToken()+`
  signing_secret: e2e-slack-signing-secret
  channel: C0DEPLOYS01
repositories:`, 1)
	withSlack = strings.Replace(withSlack, "  org: acme\n", "  org: acme\n  oauth_client_id: Iv1.e2e\n  oauth_client_secret: e2e-oauth-secret\n", 1)
	writeTestFile(t, e.configPath, withSlack)
	e.start(t)

	now := strconv.FormatInt(time.Now().Unix(), 10)
	tests := []struct {
		name, path, requestID, wantMsg string
		headers                        map[string]string
	}{
		{"forged GitHub webhook", "/webhooks/github", "req-github-1", "webhook refused: missing or wrong X-Hub-Signature-256",
			map[string]string{"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": "sha256=00"}},
		{"forged Slack command", "/slack/commands", "req-slack-1", "slack request refused",
			map[string]string{"X-Slack-Request-Timestamp": now, "X-Slack-Signature": "v0=00",
				"Content-Type": "application/x-www-form-urlencoded"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, e.url(tt.path), bytes.NewReader([]byte(`{}`)))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			req.Header.Set(httpserver.RequestIDHeader, tt.requestID)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get(httpserver.RequestIDHeader) != tt.requestID {
				t.Fatalf("status %d, X-Request-Id %q; want 401 and %s", resp.StatusCode, resp.Header.Get(httpserver.RequestIDHeader), tt.requestID)
			}
			var found map[string]any
			var raw string
			waitFor(t, "the "+tt.wantMsg+" log line", func() bool {
				found, raw = logLine(e.stderr.String(), tt.wantMsg)
				return found != nil
			})
			if found["request_id"] != tt.requestID {
				t.Fatalf("%q logged with request_id %v, want %s: %s", tt.wantMsg, found["request_id"], tt.requestID, raw)
			}
			if n := strings.Count(raw, `"request_id"`); n != 1 {
				t.Fatalf("request_id %d times in %s", n, raw)
			}
		})
	}
}

// logLine returns the last JSON log line whose msg is msg, decoded and
// as written; nil when there is none.
func logLine(logs, msg string) (map[string]any, string) {
	var out map[string]any
	var raw string
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out, raw = m, l
		}
	}
	return out, raw
}
