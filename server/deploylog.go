package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/store"
)

// Deployment logs are kept in the database (store/deploy_logs.go) rather
// than in files beside it: with several replicas, the replica showing a
// log page is seldom the one that ran the deploy. A deploy's output is
// buffered and appended in chunks: whenever deployLogChunk bytes gathered,
// every deployLogFlush while output flows, and when the deploy ends.
const (
	deployLogChunk  = 16 << 10
	deployLogFlush  = time.Second
	deployLogMax    = 4 << 20 // bytes held back while the database refuses appends
	deployLogBudget = 10 * time.Second
)

// openDeployLog returns the writer of request id's deployment log (the
// deploy closes it when done).
func (s *Server) openDeployLog(id string) io.Writer {
	if _, err := requestLogName(id); err != nil {
		s.log.Error("deployment log", "request", id, "err", err)
		return nil
	}
	l := &dbLog{store: s.store, id: id, log: s.log, stop: make(chan struct{}), done: make(chan struct{})}
	go l.flushEvery(deployLogFlush)
	return l
}

// dbLog appends a deployment log to the database in chunks.
type dbLog struct {
	store *store.Store
	id    string
	log   *slog.Logger

	mu      sync.Mutex
	buf     bytes.Buffer
	dropped int
	failing bool
	closed  bool
	stop    chan struct{}
	done    chan struct{}
}

// Write implements io.Writer; it never fails the deploy (its facts are in
// the audit log regardless).
func (l *dbLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.buf.Len()+len(p) > deployLogMax {
		l.dropped += len(p)
		return len(p), nil
	}
	l.buf.Write(p)
	if l.buf.Len() >= deployLogChunk {
		l.flushLocked()
	}
	return len(p), nil
}

// Close writes what is left.
func (l *dbLog) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		fmt.Fprintf(&l.buf, "\n[tollgate] %d bytes of this log were lost: the database refused them\n", l.dropped)
	}
	l.flushLocked()
	return nil
}

func (l *dbLog) flushEvery(d time.Duration) {
	defer close(l.done)
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			l.mu.Lock()
			l.flushLocked()
			l.mu.Unlock()
		}
	}
}

// flushLocked appends the buffer; on failure it keeps it for the next try.
func (l *dbLog) flushLocked() {
	if l.buf.Len() == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), deployLogBudget)
	defer cancel()
	if err := l.store.AppendDeployLog(ctx, l.id, l.buf.Bytes()); err != nil {
		if !l.failing {
			l.log.Error("writing the deployment log", "request", l.id, "err", err)
		}
		l.failing = true
		return
	}
	l.failing = false
	l.buf.Reset()
}

// ReadDeployLog returns a request's deployment log, nil when it has none.
// A SQLite install upgraded from a version that kept logs in files beside
// the database still shows those (deploy-logs/<id>.log).
func (s *Server) ReadDeployLog(ctx context.Context, id string) ([]byte, error) {
	name, err := requestLogName(id)
	if err != nil {
		return nil, err
	}
	b, ok, err := s.store.DeployLog(ctx, id)
	if err != nil || ok || s.legacyLogDir == "" {
		return b, err
	}
	b, err = os.ReadFile(filepath.Join(s.legacyLogDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
