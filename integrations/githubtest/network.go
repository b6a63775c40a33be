package githubtest

import (
	"net/http"
	"sync"
	"time"
)

// network shapes every answer like a link to GitHub: a latency before each
// answer and one bandwidth shared by all answers.
type network struct {
	latency time.Duration
	rate    int64 // bytes per second; 0 unlimited

	mu   sync.Mutex
	free time.Time // when the link has sent everything reserved so far
}

// SetNetwork makes the fake answer as across a network: every request
// waits latency before it is answered, and all answer bodies share
// bytesPerSecond (0: unlimited). SetNetwork(0, 0) removes the shaping.
// Benchmarks use it to compare ways of fetching a repository fairly.
func (s *Server) SetNetwork(latency time.Duration, bytesPerSecond int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if latency <= 0 && bytesPerSecond <= 0 {
		s.net = nil
		return
	}
	s.net = &network{latency: latency, rate: bytesPerSecond}
}

func (s *Server) network() *network {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.net
}

// wait holds a request for the latency; false if its client gave up.
func (n *network) wait(r *http.Request) bool {
	if n.latency <= 0 {
		return true
	}
	t := time.NewTimer(n.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// reserve books n bytes on the link and returns when they are sent. A
// sender that slept longer than asked catches up (the schedule is kept,
// not restarted); a link idle for more than a tenth of a second starts
// afresh.
func (n *network) reserve(bytes int) time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	now := time.Now()
	if n.free.Before(now.Add(-100 * time.Millisecond)) {
		n.free = now
	}
	n.free = n.free.Add(time.Duration(float64(bytes) / float64(n.rate) * float64(time.Second)))
	return n.free
}

// shapedWriter sends a body in chunks at the link's pace.
type shapedWriter struct {
	http.ResponseWriter
	net *network
	r   *http.Request
}

func (w *shapedWriter) Write(b []byte) (int, error) {
	if w.net.rate <= 0 {
		return w.ResponseWriter.Write(b)
	}
	written := 0
	for len(b) > 0 {
		chunk := b[:min(len(b), 64<<10)]
		if d := time.Until(w.net.reserve(len(chunk))); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-w.r.Context().Done():
				t.Stop()
				return written, w.r.Context().Err()
			}
		}
		n, err := w.ResponseWriter.Write(chunk)
		written += n
		if err != nil {
			return written, err
		}
		b = b[n:]
	}
	return written, nil
}
