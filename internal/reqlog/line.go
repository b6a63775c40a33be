package reqlog

import (
	"context"
	"log/slog"
	"sync"
)

// Line collects what a request's handlers learn about it (a delivery id,
// an event, whether it was stored or refused) for the one access-log line
// the server writes when the request ends, so a request is one log line
// however many layers took part in answering it.
type Line struct {
	mu    sync.Mutex
	attrs []slog.Attr
	level slog.Level
}

type lineKey struct{}

// WithLine returns ctx carrying a new, empty Line at level Info, and the Line.
func WithLine(ctx context.Context) (context.Context, *Line) {
	l := &Line{level: slog.LevelInfo}
	return context.WithValue(ctx, lineKey{}, l), l
}

// AddAttrs adds attrs to the access-log line of the request ctx belongs
// to. It reports false when ctx carries no Line (the handler runs without
// the server's request logging): the caller then logs the facts itself,
// so they are never lost.
func AddAttrs(ctx context.Context, attrs ...slog.Attr) bool {
	l, ok := ctx.Value(lineKey{}).(*Line)
	if !ok {
		return false
	}
	l.mu.Lock()
	l.attrs = append(l.attrs, attrs...)
	l.mu.Unlock()
	return true
}

// RaiseLevel makes the access-log line of the request ctx belongs to at
// least level (a refused request is a warning), and reports false when ctx
// carries no Line. It never lowers the level.
func RaiseLevel(ctx context.Context, level slog.Level) bool {
	l, ok := ctx.Value(lineKey{}).(*Line)
	if !ok {
		return false
	}
	l.mu.Lock()
	l.level = max(l.level, level)
	l.mu.Unlock()
	return true
}

// Attrs returns a copy of the attributes added so far.
func (l *Line) Attrs() []slog.Attr {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]slog.Attr(nil), l.attrs...)
}

// Level returns the level the line is to be written at.
func (l *Line) Level() slog.Level {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.level
}
