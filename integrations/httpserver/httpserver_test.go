package httpserver_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/httpserver"
	"github.com/tollgate-dev/tollgate/store/audit"
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

func TestDeploymentPage(t *testing.T) {
	at := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	req := bot.Request{
		ID: "r-7f3k2q", Repo: "acme/api", Environment: "production", Ref: "main", SHA: strings.Repeat("a1", 20),
		Trigger: bot.TriggerSlack, Requester: bot.Identity{Login: "alice"}, State: bot.StateSucceeded,
		StateReason: "succeeded", ApprovalNonce: "nonce-that-must-stay-secret", RequiredApprovals: 1,
		ExternalRefs: map[string]string{"slack_ts": "1700000000.0001"},
		PR:           &bot.PullRequest{Number: 7, Title: `<script>alert("x")</script> fix`, Author: bot.Identity{Login: "carol"}},
		Decision: &bot.Decision{Allowed: true, At: at, Checks: []bot.PolicyCheck{
			{Name: "deployer_team", LookedUp: "membership of alice in acme/backend", Outcome: bot.OutcomePass, Detail: "alice is an active member of acme/backend"},
			{Name: "freeze", LookedUp: "0 freeze windows", Outcome: bot.OutcomeSkipped, Detail: "no freeze windows"},
		}},
		Approvals: []bot.Approval{{Approver: bot.Identity{Login: "bob"}, At: at.Add(time.Minute), SHA: strings.Repeat("a1", 20), ExpiresAt: at.Add(time.Hour)}},
		Result: &bot.DeployOutcome{Result: bot.ResultSucceeded, Release: "20250601120300-a1a1a1a", ManifestDigest: "sha256:feed",
			FilesSent: 3, BytesSent: 1234, Servers: []string{"web-1:22", "web-2:22"}, Duration: 9 * time.Second,
			Steps: []bot.DeployStep{{Server: "web-2:22", Name: "upload", Duration: 2 * time.Second, OK: true},
				{Server: "web-1:22", Name: "upload", Duration: time.Second, OK: true},
				{Server: "web-1:22", Name: "health", Duration: 3 * time.Second, OK: false}}},
		CreatedAt: at, StartedAt: at.Add(2 * time.Minute), FinishedAt: at.Add(3 * time.Minute),
	}
	entries := []audit.Entry{{Seq: 17, At: at, Actor: "alice", Action: "request.created", Subject: "r-7f3k2q", Data: []byte(`{"sha":"a1a1"}`)}}
	page := &httpserver.DeploymentPage{
		Request: func(_ context.Context, id string) (bot.Request, error) {
			if id != req.ID {
				return bot.Request{}, fmt.Errorf("reading request %s: %w", id, bot.ErrNotFound)
			}
			return req, nil
		},
		Audit: func(context.Context, string) ([]audit.Entry, error) { return entries, nil },
		Log: func(context.Context, string) ([]byte, error) {
			return []byte("[web-1:22] uploaded release\n[web-1:22 health] connecting with [REDACTED]\n"), nil
		},
	}
	mux := http.NewServeMux()
	mux.Handle("GET /deployments/{id}", page)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	get := func(path string) (int, string, http.Header) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	code, body, hdr := get("/deployments/r-7f3k2q")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, content type %q", code, hdr.Get("Content-Type"))
	}
	for _, want := range []string{
		"acme/api → production", `id="state">succeeded`, "alice", strings.Repeat("a1", 20),
		"deployer_team", "alice is an active member of acme/backend", `class="skipped">skipped`,
		"Approvals (1 of 1 required)", "bob", "20250601120300-a1a1a1a", "sha256:feed", "3 (1234 bytes)",
		"web-1:22, web-2:22", "<h3>web-1:22 <small>(4s)</small></h3>", `class="fail">failed`,
		"connecting with [REDACTED]", "request.created", "&lt;script&gt;", "Pull request", "#7",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Index(body, "<h3>web-1:22") > strings.Index(body, "<h3>web-2:22") {
		t.Error("servers not in order")
	}
	for _, secret := range []string{"nonce-that-must-stay-secret", "1700000000.0001", `<script>alert`} {
		if strings.Contains(body, secret) {
			t.Errorf("page shows %q", secret)
		}
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP %q", csp)
	}
	for _, path := range []string{"/deployments/r-nothere", "/deployments/..%2f..%2fetc", "/deployments/" + strings.Repeat("x", 65)} {
		if code, _, _ := get(path); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
}
