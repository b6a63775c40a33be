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

	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/internal/httpserver"
)

// TestServeLogLinesNameTheHTTPRequest: a request to the GitHub or Slack
// transport is one log line, the access line, carrying the id the server
// gave it (and answered in X-Request-Id) once, the transport's component
// and why it was refused, so an operator can follow one request.
func TestServeLogLinesNameTheHTTPRequest(t *testing.T) {
	sl := slacktest.New(slacktest.Options{})
	t.Cleanup(sl.Close)
	e := newE2E(t, e2eOptions{})
	withSlack := strings.Replace(readTestFile(t, e.configPath), "repositories:", `slack:
  api_url: `+sl.APIURL()+`
  response_url_base: `+sl.ResponseURLBase()+`
  bot_token: `+sl.BotToken()+`
  signing_secret: e2e-slack-signing-secret
  channel: C0DEPLOYS01
repositories:`, 1)
	withSlack = strings.Replace(withSlack, "  org: acme\n", "  org: acme\n  oauth_client_id: Iv1.e2e\n  oauth_client_secret: e2e-oauth-secret\n", 1)
	writeTestFile(t, e.configPath, withSlack)
	e.start(t)

	now := strconv.FormatInt(time.Now().Unix(), 10)
	tests := []struct {
		name, path, requestID, component, refused string
		headers                                   map[string]string
	}{
		{"forged GitHub webhook", "/webhooks/github", "req-github-1", "github", "missing or wrong X-Hub-Signature-256",
			map[string]string{"X-GitHub-Event": "ping", "X-GitHub-Delivery": "d-1", "X-Hub-Signature-256": "sha256=00"}},
		{"forged Slack command", "/slack/commands", "req-slack-1", "slack", "signature mismatch",
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
			var lines []string
			waitFor(t, "the access log line of "+tt.requestID, func() bool {
				lines = linesWith(e.stderr.String(), `"`+tt.requestID+`"`)
				return len(lines) > 0
			})
			if len(lines) != 1 {
				t.Fatalf("%d log lines name %s, want 1:\n%s", len(lines), tt.requestID, strings.Join(lines, "\n"))
			}
			raw := lines[0]
			var found map[string]any
			if err := json.Unmarshal([]byte(raw), &found); err != nil {
				t.Fatalf("log line %q: %v", raw, err)
			}
			if found["msg"] != "http request" || found["level"] != "WARN" || found["request_id"] != tt.requestID ||
				found["component"] != tt.component || found["refused"] != tt.refused || found["status"] != float64(http.StatusUnauthorized) {
				t.Fatalf("line %s: want the WARN access line with request_id %s, component %s, refused %q, status 401",
					raw, tt.requestID, tt.component, tt.refused)
			}
			if n := strings.Count(raw, `"request_id"`); n != 1 {
				t.Fatalf("request_id %d times in %s", n, raw)
			}
		})
	}
}

// linesWith returns the log lines containing s.
func linesWith(logs, s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(logs), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return out
}
