package github_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	tgh "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/internal/httpserver"
	"github.com/tollgate-dev/tollgate/store"
)

// BenchmarkWebhookIntakeCPU is the CPU one signed ~28 KB pull_request
// delivery costs the intake as `tollgate serve` wires it (request logging,
// verification, decoding, group-committed durable SQLite write), in
// process and without the network: cpu-us/op is user+system time, which a
// machine loaded by others disturbs far less than latency.
// Run: go test -run '^$' -bench WebhookIntakeCPU -benchtime 4000x ./integrations/github/
func BenchmarkWebhookIntakeCPU(b *testing.B) {
	body, err := githubtest.Fixture("pull_request.synchronize.payload.json")
	if err != nil {
		b.Fatal(err)
	}
	st, err := store.Open(context.Background(), filepath.Join(b.TempDir(), "tollgate.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h, err := tgh.NewWebhookHandler(tgh.WebhookConfig{Secret: hookSecret, Inbox: st.InboxBatcher(), Logger: log.With("component", "github")})
	if err != nil {
		b.Fatal(err)
	}
	srv := httpserver.Logging(log, h)
	sig := githubtest.SignatureSHA256(hookSecret, body)
	var seq atomic.Int64
	var before, after syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	b.SetParallelism(64) // many deliveries in flight, as under a burst
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := httptest.NewRequest(http.MethodPost, "/webhooks/github", bytes.NewReader(body))
			r.Header.Set("X-GitHub-Event", "pull_request")
			r.Header.Set("X-GitHub-Delivery", "d-"+strconv.FormatInt(seq.Add(1), 10))
			r.Header.Set("X-Hub-Signature-256", sig)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, r)
			if w.Code != http.StatusAccepted {
				b.Errorf("status %d: %s", w.Code, w.Body)
				return
			}
		}
	})
	b.StopTimer()
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() - before.Utime.Nano() + after.Stime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/op")
}
