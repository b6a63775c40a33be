package httpserver

import (
	"context"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate-dev/tollgate/bot"
)

// MetricsSources are the values Metrics reads when scraped. Any may be
// nil; its gauge then reports NaN.
type MetricsSources struct {
	// InboxCounts returns the deliveries waiting and those given up on.
	InboxCounts func(ctx context.Context) (pending, failed int, err error)
	// AuditSize returns the number of audit entries (the tree size).
	AuditSize func(ctx context.Context) (int64, error)
	// LastCheckpoint returns when the last signed checkpoint was written;
	// ok is false when there is none.
	LastCheckpoint func(ctx context.Context) (at time.Time, ok bool, err error)
	Now            func() time.Time
	Logger         *slog.Logger
}

// Metrics is Tollgate's Prometheus registry. It is a bot.Notifier (it
// counts requests as they end and times deploys), an inbox observer, and
// wraps webhook handlers to time their acknowledgement.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	deploys   *prometheus.HistogramVec
	ack       *prometheus.HistogramVec
	inboxRuns *prometheus.CounterVec
	src       MetricsSources
}

// scrapeTimeout bounds each database read a scrape makes.
const scrapeTimeout = 2 * time.Second

// NewMetrics registers Tollgate's metrics, plus the Go runtime's and the
// process's, in a new registry.
func NewMetrics(src MetricsSources) *Metrics {
	if src.Now == nil {
		src.Now = time.Now
	}
	if src.Logger == nil {
		src.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		src: src,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_requests_total",
			Help: "Deploy requests that reached a final state, by repository, environment, trigger and result.",
		}, []string{"repo", "environment", "trigger", "result"}),
		deploys: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tollgate_deploy_duration_seconds",
			Help:    "How long deploys ran, from start to their final state.",
			Buckets: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1200, 3600},
		}, []string{"repo", "environment", "result"}),
		ack: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tollgate_webhook_ack_seconds",
			Help:    "Time from receiving a webhook or Slack request to answering it.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"source", "code"}),
		inboxRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tollgate_inbox_attempts_total",
			Help: "Attempts at processing inbox deliveries, by source and outcome (done, retry, failed).",
		}, []string{"source", "outcome"}),
	}
	m.reg.MustRegister(m.requests, m.deploys, m.ack, m.inboxRuns,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollgate_inbox_pending",
			Help: "Inbox deliveries waiting to be processed."}, func() float64 {
			p, _ := m.inboxCounts()
			return p
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollgate_inbox_failed",
			Help: "Inbox deliveries given up on after their last retry; each needs a person (tollgate doctor)."}, func() float64 {
			_, f := m.inboxCounts()
			return f
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollgate_audit_tree_size",
			Help: "Entries in the audit log."}, m.auditSize),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "tollgate_audit_seconds_since_checkpoint",
			Help: "Seconds since the last signed audit checkpoint; -1 when none was written yet."}, m.sinceCheckpoint),
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorLog: nil})
}

// Registry returns the registry, for tests and extra collectors.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Notify implements bot.Notifier: it counts requests that reached a final
// state and times deploys that ran. It never fails.
func (m *Metrics) Notify(_ context.Context, n bot.Notification) error {
	r := n.Request
	switch {
	case n.Kind == bot.NotifyFinished, n.Kind == bot.NotifyRefused:
	case n.Kind == bot.NotifyStateChanged && r.State.Terminal():
	default:
		return nil // not an end: a failed deploy ends in a NotifyFinished
	}
	m.requests.WithLabelValues(r.Repo, r.Environment, string(r.Trigger), string(r.State)).Inc()
	if n.Kind == bot.NotifyFinished && r.Result != nil && !r.StartedAt.IsZero() {
		m.deploys.WithLabelValues(r.Repo, r.Environment, string(r.State)).Observe(r.Result.Duration.Seconds())
	}
	return nil
}

// ObserveInbox counts one inbox attempt; it fits inbox.Worker.Observe
// through a small adapter in the wiring.
func (m *Metrics) ObserveInbox(source, outcome string) {
	m.inboxRuns.WithLabelValues(source, outcome).Inc()
}

// TimeAck wraps an intake handler (source "github" or "slack") so the time
// to answer each request is observed.
func (m *Metrics) TimeAck(source string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		begin := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			m.ack.WithLabelValues(source, strconv.Itoa(rec.status())).Observe(time.Since(begin).Seconds())
		}()
		h.ServeHTTP(rec, r)
	})
}

func (m *Metrics) inboxCounts() (pending, failed float64) {
	if m.src.InboxCounts == nil {
		return math.NaN(), math.NaN()
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	p, f, err := m.src.InboxCounts(ctx)
	if err != nil {
		m.src.Logger.Warn("metrics: reading inbox counts", "err", err)
		return math.NaN(), math.NaN()
	}
	return float64(p), float64(f)
}

func (m *Metrics) auditSize() float64 {
	if m.src.AuditSize == nil {
		return math.NaN()
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	n, err := m.src.AuditSize(ctx)
	if err != nil {
		m.src.Logger.Warn("metrics: reading audit tree size", "err", err)
		return math.NaN()
	}
	return float64(n)
}

func (m *Metrics) sinceCheckpoint() float64 {
	if m.src.LastCheckpoint == nil {
		return math.NaN()
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	at, ok, err := m.src.LastCheckpoint(ctx)
	if err != nil {
		m.src.Logger.Warn("metrics: reading the last checkpoint", "err", err)
		return math.NaN()
	}
	if !ok {
		return -1
	}
	return m.src.Now().Sub(at).Seconds()
}
