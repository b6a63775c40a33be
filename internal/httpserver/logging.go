// Package httpserver holds Tollgate's operational HTTP pieces: request
// logging with request ids, health and readiness probes and Prometheus
// metrics. The integrations' own handlers (GitHub webhooks, Slack, the web
// pages behind GitHub login) are mounted next to these by `tollgate serve`.
package httpserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/tollgate-dev/tollgate/internal/reqlog"
)

// RequestIDHeader carries the request id in and out.
const RequestIDHeader = "X-Request-Id"

// validRequestID accepts ids a proxy may set; anything else is replaced,
// so a client cannot inject text into log lines.
var validRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// Logger returns the logger of the request ctx belongs to, enriched with
// its request id, or fallback when ctx carries none (a discarding logger
// when fallback is nil). The context keys live in internal/reqlog, so
// transports that do not import this package share them.
func Logger(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	return reqlog.Logger(ctx, fallback)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string { return reqlog.RequestID(ctx) }

// WithLogger returns ctx carrying l, for work that outlives a request.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return reqlog.WithLogger(ctx, l)
}

// Logging gives every request an id (the incoming X-Request-Id when it is
// well formed, else a new one), answers it in X-Request-Id, puts a logger
// carrying it in the request context, recovers a panicking handler as a
// 500, and logs one line per request. Handlers add what they know about
// the request to that line (reqlog.AddAttrs, reqlog.RaiseLevel) instead of
// writing lines of their own. It logs the path only: query strings can
// carry OAuth codes and states.
func Logging(base *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		begin := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !validRequestID.MatchString(id) {
			id = newRequestID()
		}
		log := base.With(slog.String(reqlog.Key, id))
		ctx, line := reqlog.WithLine(reqlog.WithRequestID(reqlog.WithLogger(r.Context(), log), id))
		w.Header().Set(RequestIDHeader, id)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				log.ErrorContext(ctx, "handler panicked", slog.Any("panic", p), slog.String("stack", string(debug.Stack())))
				if !rec.wrote {
					http.Error(rec, "internal error", http.StatusInternalServerError)
				}
			}
			attrs := []slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", rec.status()), slog.Int64("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(time.Since(begin).Microseconds())/1000)}
			for _, a := range line.Attrs() {
				if !accessKeys[a.Key] {
					attrs = append(attrs, a)
				}
			}
			log.LogAttrs(ctx, line.Level(), "http request", attrs...)
		}()
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

// accessKeys are the access line's own attributes; a handler's attribute
// of the same name is dropped so each key appears once (request_id too).
var accessKeys = map[string]bool{"method": true, "path": true, "status": true, "bytes": true,
	"duration_ms": true, reqlog.Key: true, slog.MessageKey: true, slog.LevelKey: true, slog.TimeKey: true}

func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status and size of a response.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	bytes int64
	wrote bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if !s.wrote {
		s.code, s.wrote = http.StatusOK, true
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusRecorder) status() int {
	if !s.wrote {
		return http.StatusOK
	}
	return s.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
