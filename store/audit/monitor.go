package audit

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Monitor verifies the whole log in the background, so nobody waits for a
// full verification: once when it starts, then each time a new checkpoint
// has been signed (it looks every Poll), at most once per MinGap. Readers
// get the last result at once (Status).
type Monitor struct {
	db   *sql.DB
	keys func() (Keyring, error)
	opts MonitorOptions

	mu     sync.Mutex
	status VerifyStatus
	kick   chan struct{}
}

// MonitorOptions tunes a Monitor; zero values take the defaults.
type MonitorOptions struct {
	Poll   time.Duration // how often to look for a new checkpoint; 0 means 10 s
	MinGap time.Duration // least time between the starts of two runs; 0 means 1 minute
	Now    func() time.Time
	Logger *slog.Logger
}

// VerifyStatus is what the monitor knows: the last finished verification
// (Report, Started, Finished; Done is false before the first one
// finishes) and whether one runs now.
type VerifyStatus struct {
	Done              bool
	Report            Report
	Err               error // reading the database or loading the keys failed
	Started, Finished time.Time
	Running           bool
	RunningSince      time.Time
}

// NewMonitor returns a Monitor over db; keys returns the keyring in force
// (read at each run, so a configuration reload applies).
func NewMonitor(db *sql.DB, keys func() (Keyring, error), opts MonitorOptions) *Monitor {
	if opts.Poll <= 0 {
		opts.Poll = 10 * time.Second
	}
	if opts.MinGap <= 0 {
		opts.MinGap = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Monitor{db: db, keys: keys, opts: opts, kick: make(chan struct{}, 1)}
}

// Status returns the latest result without waiting.
func (m *Monitor) Status() VerifyStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.status
}

// Check asks for a run as soon as MinGap allows, without waiting for the
// next poll (after a checkpoint this process signed, say).
func (m *Monitor) Check() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// Run verifies at once, then whenever a checkpoint newer than the last run
// saw appears, until ctx ends.
func (m *Monitor) Run(ctx context.Context) {
	seen, lastStart := int64(-1), time.Time{}
	t := time.NewTicker(m.opts.Poll)
	defer t.Stop()
	wanted := true
	for {
		if wanted && m.opts.Now().Sub(lastStart) >= m.opts.MinGap {
			lastStart = m.opts.Now()
			if id, err := latestCheckpointID(ctx, m.db); err == nil {
				seen = id // a checkpoint signed during the run is verified by the next one
			}
			m.runOnce(ctx)
			wanted = false
		}
		select {
		case <-ctx.Done():
			return
		case <-m.kick:
			wanted = true
		case <-t.C:
			id, err := latestCheckpointID(ctx, m.db)
			if err != nil {
				if ctx.Err() == nil {
					m.opts.Logger.WarnContext(ctx, "audit monitor: reading the latest checkpoint", "err", err)
				}
				continue
			}
			wanted = wanted || id != seen
		}
	}
}

// runOnce runs one verification and records it.
func (m *Monitor) runOnce(ctx context.Context) {
	start := m.opts.Now()
	m.mu.Lock()
	m.status.Running, m.status.RunningSince = true, start
	m.mu.Unlock()
	var rep Report
	keys, err := m.keys()
	if err == nil {
		rep, err = Verify(ctx, m.db, keys...)
	}
	if err != nil && ctx.Err() != nil {
		m.mu.Lock()
		m.status.Running = false
		m.mu.Unlock()
		return // cut short by shutdown: keep the last result
	}
	m.mu.Lock()
	m.status = VerifyStatus{Done: true, Report: rep, Err: err, Started: start, Finished: m.opts.Now()}
	m.mu.Unlock()
	switch {
	case err != nil:
		m.opts.Logger.ErrorContext(ctx, "audit monitor: verification could not run", "err", err)
	case !rep.OK:
		m.opts.Logger.ErrorContext(ctx, "audit monitor: audit log does not verify", "problem", rep.Problem.String())
	default:
		m.opts.Logger.InfoContext(ctx, "audit monitor: audit log verified", "entries", rep.Size,
			"checkpoints", rep.Checkpoints, "took", m.opts.Now().Sub(start).String())
	}
}

// latestCheckpointID is the row id of the newest checkpoint, 0 for none.
func latestCheckpointID(ctx context.Context, db *sql.DB) (int64, error) {
	var id int64
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(id), 0) FROM audit_checkpoints`).Scan(&id); err != nil {
		return 0, fmt.Errorf("read the latest audit checkpoint: %w", err)
	}
	return id, nil
}
