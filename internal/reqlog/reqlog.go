// Package reqlog carries an HTTP request's id and logger in its context.
// It is the one spot every transport (GitHub webhooks, Slack, the web
// pages, the operational endpoints) shares, so their log lines about one
// request carry the same request_id without any of them importing another;
// it imports nothing but the standard library.
package reqlog

import (
	"context"
	"log/slog"
)

// Key is the attribute name of the request id in log lines.
const Key = "request_id"

type ctxKey int

const (
	loggerKey ctxKey = iota
	requestIDKey
)

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey, id)
}

// RequestID returns the request id ctx carries, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// WithLogger returns ctx carrying l, the logger of the request.
func WithLogger(ctx context.Context, l *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey, l)
}

// Logger returns the logger ctx carries, or fallback when it carries none
// (a discarding logger when fallback is nil).
func Logger(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey).(*slog.Logger); ok {
		return l
	}
	if fallback == nil {
		return slog.New(slog.DiscardHandler)
	}
	return fallback
}

// For returns l with the request id of ctx added, or l itself when ctx
// carries none: a component's own logger (with its "component" and other
// attributes) made to name the request it is logging about.
func For(ctx context.Context, l *slog.Logger) *slog.Logger {
	if id := RequestID(ctx); id != "" {
		return l.With(slog.String(Key, id))
	}
	return l
}

// Handler wraps a slog.Handler so that a record logged with a context
// (InfoContext, WarnContext, ...) carrying a request id gets a request_id
// attribute, unless the logger already has one (For, or a request's own
// logger). Wrapping the root logger once makes every package that passes
// its ctx name the request, without each one doing so.
type Handler struct {
	next  slog.Handler
	hasID bool // the attributes already include request_id
}

// NewHandler wraps next.
func NewHandler(next slog.Handler) *Handler { return &Handler{next: next} }

// Enabled implements slog.Handler.
func (h *Handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if !h.hasID && ctx != nil {
		if id := RequestID(ctx); id != "" && !recordHasID(r) {
			r = r.Clone()
			r.AddAttrs(slog.String(Key, id))
		}
	}
	return h.next.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	has := h.hasID
	for _, a := range as {
		has = has || a.Key == Key
	}
	return &Handler{next: h.next.WithAttrs(as), hasID: has}
}

// WithGroup implements slog.Handler. The request id added later lands in
// the group; an id already given stays where it was.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{next: h.next.WithGroup(name), hasID: h.hasID}
}

func recordHasID(r slog.Record) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == Key
		return !found
	})
	return found
}
