package deploy

import (
	"context"
	"io"
	"time"
)

// throttle limits writes to rate bytes per second (0: unlimited).
func throttle(ctx context.Context, w io.Writer, rate int64) io.Writer {
	if rate <= 0 {
		return w
	}
	return &throttledWriter{ctx: ctx, w: w, rate: rate, start: time.Now()}
}

type throttledWriter struct {
	ctx   context.Context
	w     io.Writer
	rate  int64
	start time.Time
	total int64
}

func (t *throttledWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), 16<<10)]
		n, err := t.w.Write(chunk)
		written += n
		t.total += int64(n)
		if err != nil {
			return written, err
		}
		p = p[n:]
		due := t.start.Add(time.Duration(float64(t.total) / float64(t.rate) * float64(time.Second)))
		if wait := time.Until(due); wait > 0 {
			select {
			case <-t.ctx.Done():
				return written, t.ctx.Err()
			case <-time.After(wait):
			}
		}
	}
	return written, nil
}
