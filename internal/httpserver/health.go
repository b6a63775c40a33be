package httpserver

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Check is one readiness condition. Its error is shown to whoever can
// reach /readyz, so it must not carry secrets.
type Check struct {
	Name string
	Fn   func(ctx context.Context) error
}

// Healthz answers 200 as long as the process serves HTTP.
func Healthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintln(w, "ok")
	})
}

// Readyz runs every check (each bounded by timeout) and answers 200 when
// all pass, or 503 listing each check and why it failed.
func Readyz(timeout time.Duration, checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		ready := true
		for _, c := range checks {
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			err := c.Fn(ctx)
			cancel()
			if err != nil {
				ready = false
				fmt.Fprintf(&b, "%s: FAIL: %v\n", c.Name, err)
				Logger(r.Context(), nil).WarnContext(r.Context(), "not ready", "check", c.Name, "err", err)
				continue
			}
			fmt.Fprintf(&b, "%s: ok\n", c.Name)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprint(w, b.String())
	})
}
