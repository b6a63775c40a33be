package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/httpserver"
	"github.com/tollgate-dev/tollgate/internal/reqlog"
)

// logBuffer collects JSON log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

func TestLoggingGivesEveryRequestAnID(t *testing.T) {
	var logs logBuffer
	base := slog.New(slog.NewJSONHandler(&logs, nil))
	var seenID string
	h := httpserver.Logging(base, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seenID = httpserver.RequestID(r.Context())
		httpserver.Logger(r.Context(), nil).Info("inside")
		if r.URL.Path == "/panic" {
			panic("boom")
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	cases := []struct {
		name, path, header string
		wantID             string // "" means a generated one
		wantStatus         int
	}{
		{"id from a proxy", "/webhooks/github", "abc-123", "abc-123", http.StatusAccepted},
		{"no id", "/healthz", "", "", http.StatusAccepted},
		{"id with a newline is replaced", "/healthz", "x\ny", "", http.StatusAccepted},
		{"panicking handler", "/panic", "p-1", "p-1", http.StatusInternalServerError},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			logs.mu.Lock()
			logs.b.Reset()
			logs.mu.Unlock()
			req := httptest.NewRequest(http.MethodPost, c.path+"?code=oauth-secret-code", nil)
			if c.header != "" {
				req.Header.Set(httpserver.RequestIDHeader, c.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			got := rec.Header().Get(httpserver.RequestIDHeader)
			if rec.Code != c.wantStatus {
				t.Errorf("status %d, want %d", rec.Code, c.wantStatus)
			}
			if c.wantID != "" && got != c.wantID || c.wantID == "" && (len(got) != 24 || got == c.header) {
				t.Errorf("response id %q, want %q (or a fresh one)", got, c.wantID)
			}
			if seenID != got {
				t.Errorf("handler saw id %q, response says %q", seenID, got)
			}
			lines := logs.lines(t)
			last := lines[len(lines)-1]
			if last["msg"] != "http request" || last["path"] != c.path || last["request_id"] != got || last["status"] != float64(c.wantStatus) {
				t.Errorf("request log line %v", last)
			}
			for _, l := range lines {
				if l["request_id"] != got {
					t.Errorf("log line without the request id: %v", l)
				}
			}
			if raw := fmt.Sprint(lines); strings.Contains(raw, "oauth-secret-code") {
				t.Errorf("query string logged: %s", raw)
			}
		})
	}
}

func TestReadyz(t *testing.T) {
	ok := httpserver.Check{Name: "database", Fn: func(context.Context) error { return nil }}
	bad := httpserver.Check{Name: "audit key", Fn: func(context.Context) error { return errors.New("key file missing") }}
	slow := httpserver.Check{Name: "slow", Fn: func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }}
	cases := []struct {
		name   string
		checks []httpserver.Check
		status int
		body   []string
	}{
		{"all pass", []httpserver.Check{ok}, 200, []string{"database: ok"}},
		{"one fails", []httpserver.Check{ok, bad}, 503, []string{"database: ok", "audit key: FAIL: key file missing"}},
		{"one hangs", []httpserver.Check{slow, ok}, 503, []string{"slow: FAIL: context deadline exceeded", "database: ok"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			httpserver.Readyz(50*time.Millisecond, c.checks...).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != c.status {
				t.Errorf("status %d, want %d", rec.Code, c.status)
			}
			for _, b := range c.body {
				if !strings.Contains(rec.Body.String(), b) {
					t.Errorf("body %q lacks %q", rec.Body.String(), b)
				}
			}
		})
	}
	rec := httptest.NewRecorder()
	httpserver.Healthz().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	if rec.Code != 200 || strings.TrimSpace(rec.Body.String()) != "ok" {
		t.Errorf("healthz: %d %q", rec.Code, rec.Body.String())
	}
}

func scrape(t *testing.T, m *httpserver.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("metrics: %d", rec.Code)
	}
	return rec.Body.String()
}

func TestMetrics(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	checkpoint := now.Add(-90 * time.Second)
	haveCheckpoint := true
	m := httpserver.NewMetrics(httpserver.MetricsSources{
		InboxCounts: func(context.Context) (int, int, error) { return 3, 1, nil },
		AuditSize:   func(context.Context) (int64, error) { return 42, nil },
		LastCheckpoint: func(context.Context) (time.Time, bool, error) {
			return checkpoint, haveCheckpoint, nil
		},
		Now: func() time.Time { return now },
	})
	ctx := context.Background()
	done := bot.Request{Repo: "acme/api", Environment: "staging", Trigger: bot.TriggerMerge, State: bot.StateSucceeded,
		StartedAt: now.Add(-time.Minute), Result: &bot.DeployOutcome{Result: bot.ResultSucceeded, Duration: 42 * time.Second}}
	failed := done
	failed.State = bot.StateFailed
	refused := bot.Request{Repo: "acme/api", Environment: "production", Trigger: bot.TriggerSlack, State: bot.StateRejected}
	waiting := bot.Request{Repo: "acme/api", Environment: "production", Trigger: bot.TriggerSlack, State: bot.StateAwaitingApproval}
	for _, n := range []bot.Notification{
		{Kind: bot.NotifyFinished, Request: done},
		{Kind: bot.NotifyFinished, Request: failed},
		{Kind: bot.NotifyRefused, Request: refused},
		{Kind: bot.NotifyApprovalNeeded, Request: waiting},
		{Kind: bot.NotifyStateChanged, Request: waiting},
	} {
		if err := m.Notify(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	m.ObserveInbox("github", "retry")
	m.TimeAck("github", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	})).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/webhooks/github", nil))

	body := scrape(t, m)
	for _, want := range []string{
		`tollgate_requests_total{environment="staging",repo="acme/api",result="succeeded",trigger="merge"} 1`,
		`tollgate_requests_total{environment="staging",repo="acme/api",result="failed",trigger="merge"} 1`,
		`tollgate_requests_total{environment="production",repo="acme/api",result="rejected",trigger="slack"} 1`,
		`tollgate_deploy_duration_seconds_sum{environment="staging",repo="acme/api",result="succeeded"} 42`,
		`tollgate_deploy_duration_seconds_count{environment="staging",repo="acme/api",result="failed"} 1`,
		`tollgate_webhook_ack_seconds_count{code="202",source="github"} 1`,
		`tollgate_inbox_attempts_total{outcome="retry",source="github"} 1`,
		"tollgate_inbox_pending 3",
		"tollgate_inbox_failed 1",
		"tollgate_audit_tree_size 42",
		"tollgate_audit_seconds_since_checkpoint 90",
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "awaiting_approval") {
		t.Error("a request that has not ended was counted")
	}
	haveCheckpoint = false
	if body := scrape(t, m); !strings.Contains(body, "tollgate_audit_seconds_since_checkpoint -1") {
		t.Error("no checkpoint should read -1")
	}
}

// TestLoggingWritesWhatHandlersAdd: what a handler adds through reqlog
// lands on the request's one access line, at the level it raised, and a
// handler cannot repeat or overwrite the line's own keys.
func TestLoggingWritesWhatHandlersAdd(t *testing.T) {
	tests := []struct {
		name      string
		handler   func(w http.ResponseWriter, r *http.Request)
		wantLevel string
		wantAttrs map[string]any
	}{
		{"stored delivery", func(w http.ResponseWriter, r *http.Request) {
			reqlog.AddAttrs(r.Context(), slog.String("delivery", "d-1"), slog.String("outcome", "stored"))
			w.WriteHeader(http.StatusAccepted)
		}, "INFO", map[string]any{"delivery": "d-1", "outcome": "stored", "status": float64(http.StatusAccepted)}},
		{"refused delivery", func(w http.ResponseWriter, r *http.Request) {
			reqlog.AddAttrs(r.Context(), slog.String("refused", "bad signature"))
			reqlog.RaiseLevel(r.Context(), slog.LevelWarn)
			w.WriteHeader(http.StatusUnauthorized)
		}, "WARN", map[string]any{"refused": "bad signature", "status": float64(http.StatusUnauthorized)}},
		{"handler repeating the line's own keys", func(w http.ResponseWriter, r *http.Request) {
			reqlog.AddAttrs(r.Context(), slog.String(reqlog.Key, "forged"), slog.Int("status", 299), slog.String("msg", "x"))
			w.WriteHeader(http.StatusOK)
		}, "INFO", map[string]any{"request_id": "r-1", "status": float64(http.StatusOK), "msg": "http request"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs logBuffer
			h := httpserver.Logging(slog.New(slog.NewJSONHandler(&logs, nil)), http.HandlerFunc(tt.handler))
			req := httptest.NewRequest(http.MethodPost, "/webhooks/github", nil)
			req.Header.Set(httpserver.RequestIDHeader, "r-1")
			h.ServeHTTP(httptest.NewRecorder(), req)
			lines := logs.lines(t)
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1: %v", len(lines), lines)
			}
			if lines[0]["level"] != tt.wantLevel {
				t.Errorf("level %v, want %s", lines[0]["level"], tt.wantLevel)
			}
			for k, v := range tt.wantAttrs {
				if lines[0][k] != v {
					t.Errorf("%s = %v, want %v in %v", k, lines[0][k], v, lines[0])
				}
			}
			raw := logs.b.String()
			for _, k := range []string{`"request_id"`, `"status"`, `"msg"`} {
				if n := strings.Count(raw, k); n != 1 {
					t.Errorf("%s appears %d times: %s", k, n, raw)
				}
			}
		})
	}
}
