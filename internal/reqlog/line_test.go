package reqlog

import (
	"context"
	"log/slog"
	"sync"
	"testing"
)

func TestLineCollectsWhatHandlersAdd(t *testing.T) {
	tests := []struct {
		name      string
		ctx       func() (context.Context, *Line)
		add       func(ctx context.Context) (added, raised bool)
		wantKeys  []string
		wantLevel slog.Level
	}{
		{"no line: the caller is told to log itself", func() (context.Context, *Line) { return context.Background(), nil },
			func(ctx context.Context) (bool, bool) {
				return AddAttrs(ctx, slog.String("delivery", "d-1")), RaiseLevel(ctx, slog.LevelWarn)
			}, nil, 0},
		{"attributes in the order added", withLineBackground,
			func(ctx context.Context) (bool, bool) {
				a := AddAttrs(ctx, slog.String("delivery", "d-1"))
				return a && AddAttrs(ctx, slog.String("outcome", "stored"), slog.Int64("installation", 7)), false
			}, []string{"delivery", "outcome", "installation"}, slog.LevelInfo},
		{"a refusal raises the level", withLineBackground,
			func(ctx context.Context) (bool, bool) {
				return AddAttrs(ctx, slog.String("refused", "bad signature")), RaiseLevel(ctx, slog.LevelWarn)
			}, []string{"refused"}, slog.LevelWarn},
		{"the level is never lowered", withLineBackground,
			func(ctx context.Context) (bool, bool) {
				r := RaiseLevel(ctx, slog.LevelError)
				return true, r && RaiseLevel(ctx, slog.LevelWarn)
			}, nil, slog.LevelError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, line := tt.ctx()
			added, raised := tt.add(ctx)
			if line == nil {
				if added || raised {
					t.Fatalf("AddAttrs/RaiseLevel reported %v/%v without a line, want false/false", added, raised)
				}
				return
			}
			if !added {
				t.Fatal("AddAttrs reported no line")
			}
			var keys []string
			for _, a := range line.Attrs() {
				keys = append(keys, a.Key)
			}
			if len(keys) != len(tt.wantKeys) {
				t.Fatalf("keys %v, want %v", keys, tt.wantKeys)
			}
			for i := range keys {
				if keys[i] != tt.wantKeys[i] {
					t.Fatalf("keys %v, want %v", keys, tt.wantKeys)
				}
			}
			if line.Level() != tt.wantLevel {
				t.Fatalf("level %v, want %v", line.Level(), tt.wantLevel)
			}
		})
	}
}

// withLineBackground is WithLine on a background context.
func withLineBackground() (context.Context, *Line) { return WithLine(context.Background()) }

// TestLineIsSafeForConcurrentHandlers: a handler may add facts from more
// than one goroutine (run with -race).
func TestLineIsSafeForConcurrentHandlers(t *testing.T) {
	ctx, line := WithLine(context.Background())
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			AddAttrs(ctx, slog.Bool("x", true))
			RaiseLevel(ctx, slog.LevelWarn)
		})
	}
	wg.Wait()
	if n := len(line.Attrs()); n != 8 || line.Level() != slog.LevelWarn {
		t.Fatalf("%d attributes at %v, want 8 at WARN", n, line.Level())
	}
}
