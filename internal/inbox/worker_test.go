package inbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/inbox"
	"github.com/tollgate-dev/tollgate/store"
)

// stepClock is a settable clock shared by the store and the worker.
type stepClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *stepClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *stepClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// scripted is a handler whose results per delivery are scripted; it
// records every call as "delivery#attempt".
type scripted struct {
	mu      sync.Mutex
	results map[string][]error // popped per call; empty means success
	panics  map[string]int     // panic on this many first calls
	calls   []string
}

func (h *scripted) Handle(_ context.Context, it inbox.Item) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, fmt.Sprintf("%s#%d", it.DeliveryID, it.Attempts))
	if h.panics[it.DeliveryID] > 0 {
		h.panics[it.DeliveryID]--
		h.mu.Unlock()
		defer h.mu.Lock()
		var items []string
		_ = items[len(h.calls)] // an index out of range: a real runtime panic
	}
	if rs := h.results[it.DeliveryID]; len(rs) > 0 {
		h.results[it.DeliveryID] = rs[1:]
		return rs[0]
	}
	return nil
}

func (h *scripted) Calls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.calls...)
}

type fixture struct {
	store *store.Store
	clock *stepClock
	h     *scripted
	w     *inbox.Worker
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	clock := &stepClock{t: time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)}
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "tollgate.db"),
		store.Options{Now: clock.Now, InboxLease: 5 * time.Minute})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{store: st, clock: clock, logs: &syncBuffer{},
		h: &scripted{results: map[string][]error{}, panics: map[string]int{}}}
	f.w = &inbox.Worker{Store: st, Handle: f.h.Handle, Clock: clock.Now,
		Backoff: inbox.Exponential(10*time.Second, time.Minute), MaxAttempts: 3,
		Logger: slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	return f
}

func (f *fixture) enqueue(t *testing.T, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if _, err := f.store.Enqueue(context.Background(), inbox.Item{Source: "github", DeliveryID: id,
			EventType: "pull_request", Payload: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
	}
}

func (f *fixture) process(t *testing.T) int {
	t.Helper()
	n, err := f.w.ProcessDue(context.Background())
	if err != nil {
		t.Fatalf("ProcessDue: %v", err)
	}
	return n
}

func (f *fixture) item(t *testing.T, delivery string) inbox.Item {
	t.Helper()
	var id int64
	if err := f.store.DB().QueryRow(`SELECT id FROM inbox WHERE delivery_id = ?`, delivery).Scan(&id); err != nil {
		t.Fatal(err)
	}
	it, err := f.store.InboxItem(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func TestRetriedWithBackoffThenDone(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, "d1")
	f.h.results["d1"] = []error{errors.New("github 502"), errors.New("github 502 again")}

	if n := f.process(t); n != 1 {
		t.Fatalf("first pass handled %d", n)
	}
	steps := []struct {
		name    string
		advance time.Duration
		handled int
	}{
		{"not due before the first backoff (10s)", 9 * time.Second, 0},
		{"due after the first backoff", time.Second, 1},
		{"not due before the doubled backoff (20s)", 19 * time.Second, 0},
		{"due after the doubled backoff", time.Second, 1},
		{"nothing left once done", time.Hour, 0},
	}
	for _, s := range steps {
		f.clock.Add(s.advance)
		if n := f.process(t); n != s.handled {
			t.Fatalf("%s: handled %d, want %d", s.name, n, s.handled)
		}
	}
	if got := strings.Join(f.h.Calls(), " "); got != "d1#1 d1#2 d1#3" {
		t.Fatalf("attempts: %s", got)
	}
	if it := f.item(t, "d1"); it.State != store.InboxDone || it.LastError != "" {
		t.Fatalf("item after success: %s %q", it.State, it.LastError)
	}
}

func TestFailedAfterMaxAttempts(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, "d-bad")
	f.h.results["d-bad"] = []error{errors.New("boom 1"), errors.New("boom 2"), errors.New("boom 3"), errors.New("never reached")}
	for range 10 {
		f.process(t)
		f.clock.Add(time.Hour)
	}
	if got := strings.Join(f.h.Calls(), " "); got != "d-bad#1 d-bad#2 d-bad#3" {
		t.Fatalf("attempts: %s (want exactly MaxAttempts=3)", got)
	}
	it := f.item(t, "d-bad")
	if it.State != store.InboxFailed || it.LastError != "boom 3" {
		t.Fatalf("item: %s %q", it.State, it.LastError)
	}
	counts, err := f.store.Counts(context.Background())
	if err != nil || counts.Failed != 1 || counts.Pending != 0 {
		t.Fatalf("counts %+v, %v", counts, err)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"level":"ERROR","msg":"delivery failed after the last attempt; left in the inbox"`) ||
		!strings.Contains(logs, `"delivery":"d-bad"`) {
		t.Fatalf("no error log naming the delivery:\n%s", logs)
	}
}

func TestPermanentErrorFailsAtOnce(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, "d-undecodable")
	f.h.results["d-undecodable"] = []error{fmt.Errorf("decoding: %w", inbox.Permanent(errors.New("unexpected end of JSON input")))}
	f.process(t)
	f.clock.Add(time.Hour)
	f.process(t)
	if got := f.h.Calls(); len(got) != 1 {
		t.Fatalf("a permanent error was retried: %v", got)
	}
	if it := f.item(t, "d-undecodable"); it.State != store.InboxFailed || !strings.Contains(it.LastError, "unexpected end of JSON input") {
		t.Fatalf("item: %s %q", it.State, it.LastError)
	}
}

func TestPanicIsAnErrorNotACrash(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, "d-panic", "d-fine")
	f.h.panics["d-panic"] = 1
	var seen []string
	f.w.Observe = func(it inbox.Item, o inbox.Outcome, _ time.Duration) {
		seen = append(seen, it.DeliveryID+":"+string(o))
	}
	if n := f.process(t); n != 2 {
		t.Fatalf("handled %d", n)
	}
	if got := strings.Join(seen, " "); got != "d-panic:retry d-fine:done" {
		t.Fatalf("outcomes: %s", got)
	}
	if it := f.item(t, "d-panic"); it.State != store.InboxPending || !strings.Contains(it.LastError, "handler panicked") {
		t.Fatalf("panicked item: %s %q", it.State, it.LastError)
	}
	f.clock.Add(time.Minute)
	f.process(t)
	if it := f.item(t, "d-panic"); it.State != store.InboxDone {
		t.Fatalf("retried item: %s", it.State)
	}
}

func TestRunWakesOnKick(t *testing.T) {
	f := newFixture(t)
	f.w.PollInterval = time.Hour // only Kick can wake it after the first pass
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.w.Run(ctx) }()
	f.enqueue(t, "d-kicked")
	f.w.Kick()
	waitFor(t, func() bool { return f.item(t, "d-kicked").State == store.InboxDone })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestBySourceRefusesUnknownSources(t *testing.T) {
	f := newFixture(t)
	f.w.Handle = inbox.BySource(map[string]inbox.Handler{"github": f.h.Handle})
	if _, err := f.store.Enqueue(context.Background(), inbox.Item{Source: "slack", DeliveryID: "s1", EventType: "block_actions"}); err != nil {
		t.Fatal(err)
	}
	f.enqueue(t, "g1")
	f.process(t)
	if it := f.item(t, "s1"); it.State != store.InboxFailed || !strings.Contains(it.LastError, "no handler for slack") {
		t.Fatalf("slack item: %s %q", it.State, it.LastError)
	}
	if it := f.item(t, "g1"); it.State != store.InboxDone {
		t.Fatalf("github item: %s", it.State)
	}
}

func TestExponential(t *testing.T) {
	b := inbox.Exponential(5*time.Second, time.Minute)
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{1, 5 * time.Second}, {2, 10 * time.Second}, {3, 20 * time.Second}, {4, 40 * time.Second},
		{5, time.Minute}, {60, time.Minute}, {1000, time.Minute},
	}
	for _, tt := range tests {
		if got := b(tt.attempt); got != tt.want {
			t.Errorf("attempt %d: %s, want %s", tt.attempt, got, tt.want)
		}
	}
}

// waitFor polls cond with a generous deadline (loaded CI machines).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 30s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLeaseLostIsNotAnError: when a slow attempt's lease was taken over
// (another replica claimed the delivery again) its outcome is dropped
// cleanly: ProcessDue reports no error, the attempt is observed as
// lease_lost, and the later claimer's outcome stands.
func TestLeaseLostIsNotAnError(t *testing.T) {
	f := newFixture(t)
	f.enqueue(t, "slow")
	var outcomes []inbox.Outcome
	f.w.Observe = func(_ inbox.Item, o inbox.Outcome, _ time.Duration) { outcomes = append(outcomes, o) }
	var retaken inbox.Item
	f.w.Handle = func(ctx context.Context, it inbox.Item) error {
		// While this attempt runs its lease runs out and it is claimed again.
		f.clock.Add(6 * time.Minute)
		got, err := f.store.ClaimDue(ctx, f.clock.Now(), 1)
		if err != nil || len(got) != 1 {
			return fmt.Errorf("claiming again: %v, %v", got, err)
		}
		retaken = got[0]
		return nil
	}
	if n := f.process(t); n != 1 {
		t.Fatalf("processed %d", n)
	}
	if len(outcomes) != 1 || outcomes[0] != inbox.OutcomeLeaseLost {
		t.Fatalf("outcomes %v, want [lease_lost]", outcomes)
	}
	if !strings.Contains(f.logs.String(), "lease lost") {
		t.Errorf("no warning about the lost lease in the log:\n%s", f.logs.String())
	}
	if it := f.item(t, "slow"); it.State != "pending" {
		t.Fatalf("state %s after the lost attempt, want pending (the later claimer's)", it.State)
	}
	if err := f.store.MarkDone(context.Background(), retaken.Lease()); err != nil {
		t.Fatalf("the later claimer records its outcome: %v", err)
	}
}
