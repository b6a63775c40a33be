package signature

import (
	"errors"
	"io"
	"sync"
)

// An unauthenticated client can make the server hold whatever it sends
// until the signature over it is checked, which needs the whole body.
// Each body is bounded by a per-request limit (the largest body the
// sender really sends), and all bodies held at once by a Budget: bytes
// are charged to it as they arrive, and when it is spent further bodies
// are refused at once instead of growing memory.

// ErrBusy is returned when the budget for unverified bodies is spent.
var ErrBusy = errors.New("too many unverified request bodies in flight")

// Budget bounds the bytes of request bodies held, across requests,
// before their signatures are checked. A nil *Budget bounds nothing.
type Budget struct {
	mu          sync.Mutex
	limit, used int64
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// take charges n bytes, or reports false when they do not fit.
func (b *Budget) take(n int64) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	return true
}

func (b *Budget) give(n int64) {
	if b == nil || n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

// InUse is the bytes charged now, for tests and metrics.
func (b *Budget) InUse() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// prealloc bounds what ReadBody allocates before any byte arrives.
const prealloc = 256 << 10

// ReadBody reads r to its end, charging the memory it holds to b as it
// grows; release gives it back and must be called once the body is no
// longer needed (also after an error). declared is the request's
// Content-Length (or -1): up to 256 KB of it is allocated at once, so a
// usual delivery is one allocation, never more on the client's word
// alone. r should be an http.MaxBytesReader carrying the per-request
// limit. When b is spent, ReadBody stops with ErrBusy.
func (b *Budget) ReadBody(r io.Reader, declared int64) (body []byte, release func(), err error) {
	var charged int64
	release = func() { b.give(charged); charged = 0 }
	size := int64(512)
	if declared > 0 && declared < prealloc {
		size = declared + 1 // room to read io.EOF without growing
	}
	if !b.take(size) {
		return nil, release, ErrBusy
	}
	charged = size
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			grow := int64(cap(buf)) // doubling, as append does
			if !b.take(grow) {
				return nil, release, ErrBusy
			}
			charged += grow
			next := make([]byte, len(buf), int64(cap(buf))+grow)
			copy(next, buf)
			buf = next
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, release, nil
		}
		if err != nil {
			return buf, release, err
		}
	}
}
