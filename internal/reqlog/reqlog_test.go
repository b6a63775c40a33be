package reqlog

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// lines decodes JSON log lines.
func lines(t *testing.T, b *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

func TestHandlerNamesTheRequest(t *testing.T) {
	withID := WithRequestID(context.Background(), "req-1")
	tests := []struct {
		name   string
		log    func(l *slog.Logger)
		wantID string // "" expects no request_id
		count  int    // times request_id appears in the line
	}{
		{"context call with an id", func(l *slog.Logger) { l.InfoContext(withID, "x") }, "req-1", 1},
		{"context call without an id", func(l *slog.Logger) { l.InfoContext(context.Background(), "x") }, "", 0},
		{"call without a context", func(l *slog.Logger) { l.Info("x") }, "", 0},
		{"logger already naming the request", func(l *slog.Logger) { For(withID, l).InfoContext(withID, "x") }, "req-1", 1},
		{"record already naming the request", func(l *slog.Logger) { l.InfoContext(withID, "x", Key, "req-1") }, "req-1", 1},
		{"component logger", func(l *slog.Logger) { l.With("component", "github").WarnContext(withID, "x") }, "req-1", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.log(slog.New(NewHandler(slog.NewJSONHandler(&b, nil))))
			if n := strings.Count(b.String(), `"`+Key+`"`); n != tt.count {
				t.Fatalf("request_id appears %d times, want %d: %s", n, tt.count, b.String())
			}
			got, _ := lines(t, &b)[0][Key].(string)
			if got != tt.wantID {
				t.Fatalf("request_id %q, want %q", got, tt.wantID)
			}
		})
	}
}

func TestLoggerAndFor(t *testing.T) {
	var b bytes.Buffer
	base := slog.New(slog.NewJSONHandler(&b, nil))
	reqLog := base.With(Key, "from-ctx")
	ctx := WithLogger(WithRequestID(context.Background(), "from-ctx"), reqLog)
	tests := []struct {
		name   string
		logger *slog.Logger
		wantID string
	}{
		{"the request's logger", Logger(ctx, base), "from-ctx"},
		{"fallback when the context has none", Logger(context.Background(), base), ""},
		{"a component logger made to name the request", For(ctx, base.With("component", "slack")), "from-ctx"},
		{"For without a request", For(context.Background(), base), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.Reset()
			tt.logger.Info("x")
			got, _ := lines(t, &b)[0][Key].(string)
			if got != tt.wantID {
				t.Fatalf("request_id %q, want %q", got, tt.wantID)
			}
		})
	}
	Logger(context.Background(), nil).Info("discarded") // a nil fallback must not panic
}
