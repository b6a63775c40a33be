package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// intakeTarget is one configuration BenchmarkWebhookIntakeLoad measures:
// `tollgate serve` processes on one database, or the bare handler.
type intakeTarget struct {
	name  string     // metric prefix
	world *loadWorld // whose signed requests it gets (bare: the SQLite world's)
	bases []string
	want  map[string]bool // every delivery stored in world so far; nil for bare, which stores nothing
	res   []intakeResult
	reqs  []intakeRequest
	cpu   []roundCPU // one per timed round
}

// BenchmarkWebhookIntakeLoad sends rounds of 500 concurrent signed
// deliveries (250 GitHub webhooks, 250 Slack /deploy commands) plus 50
// resends with the same ids over loopback to each configuration in turn,
// interleaved in one run: one `tollgate serve` on SQLite (synchronous=FULL),
// one replica on PostgreSQL, three replicas on one PostgreSQL (requests
// spread round robin, each resend to another replica than its original;
// synchronous_commit=on), and a handler that only answers 200. Each round
// the order rotates, and before each configuration's round every world's
// inbox and outbox are drained (timer stopped), so no configuration's
// background work lands in another's round. It fails if any delivery is
// not stored exactly once, and reports each configuration's ack latency
// (after one untimed warm-up round each) and the CPU its rounds used, on
// the whole machine and by whom (see intake_cpu_test.go): on a machine
// whose cores a round keeps busy, latency follows CPU.
// Run: go test -run '^$' -bench WebhookIntakeLoad -benchtime 8x ./cmd/tollgate/
func BenchmarkWebhookIntakeLoad(b *testing.B) {
	sqlite := startLoadWorld(b)
	pg1 := startLoadWorldOn(b, storetest.NewSchema(b, true), 1)
	pg3 := startLoadWorldOn(b, storetest.NewSchema(b, true), 3)
	// Stop every serve process with SIGTERM before the schemas are dropped
	// (cleanups run last-registered first): a SIGKILLed client's sessions
	// may still hold locks the DROP SCHEMA waits for.
	b.Cleanup(func() {
		for _, w := range []*loadWorld{sqlite, pg1, pg3} {
			w.stop(b)
		}
	})
	targets := []*intakeTarget{
		{name: "bare", world: sqlite, bases: []string{bareIntakeServer(b).URL}},
		{name: "sqlite", world: sqlite, bases: sqlite.urls(), want: map[string]bool{}},
		{name: "pg1", world: pg1, bases: pg1.urls(), want: map[string]bool{}},
		{name: "pg3", world: pg3, bases: pg3.urls(), want: map[string]bool{}},
	}
	// One untimed round per configuration first: a server that has been
	// running has its database connections open and its statements
	// prepared, and the first burst after a start measures opening them
	// (three replicas open three pools), not intake.
	for _, t := range targets {
		runIntakeRound(b, t, targets, "warm-up")
	}
	b.ResetTimer()
	for round := range b.N {
		for k := range targets {
			t := targets[(round+k)%len(targets)]
			reqs, res, cpu := runIntakeRound(b, t, targets, fmt.Sprintf("round %d", round))
			t.res, t.reqs, t.cpu = append(t.res, res...), append(t.reqs, reqs...), append(t.cpu, cpu)
		}
	}
	b.StopTimer()
	bare := latencies(targets[0].res, nil)
	for _, t := range targets {
		s := latencies(t.res, nil)
		b.Logf("%-6s %s (github %s; slack %s); p99/bare p99 %.2f", t.name, s,
			latencies(t.res, func(i int) bool { return t.reqs[i].source == "github" }),
			latencies(t.res, func(i int) bool { return t.reqs[i].source == "slack" }),
			float64(s.p99)/float64(bare.p99))
		b.ReportMetric(float64(s.p50)/1e6, t.name+"-p50-ms")
		b.ReportMetric(float64(s.p99)/1e6, t.name+"-p99-ms")
		b.ReportMetric(float64(s.max)/1e6, t.name+"-max-ms")
		cpu := meanCPU(t.cpu)
		b.Logf("%-6s mean round: %s", t.name, cpu)
		b.ReportMetric(float64(cpu.machine)/1e6, t.name+"-cpu-ms/round")
	}
	p99 := func(i int) float64 { return float64(latencies(targets[i].res, nil).p99) }
	b.ReportMetric(p99(3)/p99(1), "pg3-p99/sqlite-p99")
}

// runIntakeRound drains every world's inbox and outbox (timer stopped),
// sends one round of requests to t with the timer running, and checks that
// every delivery was stored exactly once. It also returns the CPU the
// round used (the bare handler's has no serve processes).
func runIntakeRound(b *testing.B, t *intakeTarget, targets []*intakeTarget, label string) ([]intakeRequest, []intakeResult, roundCPU) {
	b.StopTimer()
	for _, other := range targets {
		if other.want != nil {
			waitIntakeDrained(b, other.name, other.world)
		}
	}
	reqs := t.world.planIntakeRound(500, 10)
	var serves []*serveChild
	if t.want != nil {
		serves = t.world.children
	}
	before := sampleCPU(serves)
	b.StartTimer()
	res := sendIntakeRound(t.bases, reqs)
	b.StopTimer()
	cpu := sampleCPU(serves).since(before)
	b.Logf("%s %s: %s; %s", label, t.name, latencies(res, nil), cpu)
	if t.want != nil {
		checkIntakeRound(b, t.world.dbPath, reqs, res, t.want)
		if b.Failed() {
			b.Fatal(t.world.logTail())
		}
	}
	b.StartTimer()
	return reqs, res, cpu
}

// stop ends w's serve processes with SIGTERM and fails unless each exits 0.
func (w *loadWorld) stop(b *testing.B) {
	for i, c := range w.children {
		if !c.running() {
			continue
		}
		if err := c.terminate(b); err != nil {
			b.Errorf("serve %d exited with %v, want 0\n%s", i, err, c.logTail())
		}
	}
}

// waitIntakeDrained waits until w's inbox holds no pending delivery and
// its outbox nothing undelivered, so w's workers are idle; name is
// the configuration's, for the log.
func waitIntakeDrained(b *testing.B, name string, w *loadWorld) {
	b.Helper()
	st, err := store.OpenReadOnly(context.Background(), w.dbPath)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	began := time.Now()
	for {
		var pending, undelivered int
		err := st.DB().QueryRow(`SELECT (SELECT count(*) FROM inbox WHERE state = ?),
			(SELECT count(*) FROM outbox WHERE done_at = 0)`, store.InboxPending).Scan(&pending, &undelivered)
		if err != nil {
			b.Fatal(err)
		}
		if pending == 0 && undelivered == 0 {
			if d := time.Since(began); d > time.Second {
				b.Logf("%s drained in %s", name, d.Round(time.Millisecond))
			}
			return
		}
		if time.Since(began) > 5*time.Minute {
			b.Fatalf("%s not drained after 5 minutes: %d deliveries pending, %d notifications undelivered\n%s",
				name, pending, undelivered, w.logTail())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// latencyStats is the ack latency distribution of some requests.
type latencyStats struct {
	n             int
	p50, p99, max time.Duration
}

func latencies(results []intakeResult, keep func(i int) bool) latencyStats {
	var ds []time.Duration
	for i, r := range results {
		if keep == nil || keep(i) {
			ds = append(ds, r.latency)
		}
	}
	if len(ds) == 0 {
		return latencyStats{}
	}
	slices.Sort(ds)
	at := func(q float64) time.Duration {
		i := int(q*float64(len(ds))+0.999999) - 1
		return ds[max(0, min(i, len(ds)-1))]
	}
	return latencyStats{n: len(ds), p50: at(0.50), p99: at(0.99), max: ds[len(ds)-1]}
}

func (s latencyStats) String() string {
	ms := func(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 1, 64) }
	return fmt.Sprintf("n=%d p50=%sms p99=%sms max=%sms", s.n, ms(s.p50), ms(s.p99), ms(s.max))
}

// bareIntakeServer answers 200 after reading the body: the floor any
// intake handler is compared with.
func bareIntakeServer(tb testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusOK)
	}))
	tb.Cleanup(srv.Close)
	return srv
}
