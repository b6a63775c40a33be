package deploy

import (
	"bytes"
	"io"
	"sort"
	"strings"
	"sync"
)

// maxHookOutput bounds the output kept and logged per hook or health command.
const maxHookOutput = 64 << 10

const redacted = "[REDACTED]"

// redactor replaces secret values in text, including values split across writes.
type redactor struct {
	secrets [][]byte // longest first
	maxLen  int
}

func newRedactor(secrets []string) *redactor {
	r := &redactor{}
	for _, s := range secrets {
		if s != "" {
			r.secrets = append(r.secrets, []byte(s))
			r.maxLen = max(r.maxLen, len(s))
		}
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

// String redacts a complete string (errors, commands).
func (r *redactor) String(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, string(sec), redacted)
	}
	return s
}

// process redacts the safe prefix of buf: every byte that cannot be the
// start of a secret continued by bytes not yet received. It returns the
// redacted output and the number of input bytes consumed.
func (r *redactor) process(buf []byte, final bool) ([]byte, int) {
	if len(r.secrets) == 0 {
		return append([]byte(nil), buf...), len(buf)
	}
	limit := len(buf)
	if !final && r.maxLen > 0 {
		limit = len(buf) - (r.maxLen - 1)
	}
	var out []byte
	i := 0
next:
	for i < limit {
		for _, sec := range r.secrets {
			if bytes.HasPrefix(buf[i:], sec) {
				out = append(out, redacted...)
				i += len(sec)
				continue next
			}
		}
		out = append(out, buf[i])
		i++
	}
	return out, i
}

// hookOutput receives a remote command's output: it redacts secrets, keeps
// up to maxHookOutput bytes for the result and streams the same bytes to the
// deployment log, each line prefixed with the server and step.
type hookOutput struct {
	red       *redactor
	log       *lineLog
	prefix    string
	pending   []byte
	kept      bytes.Buffer
	truncated bool
}

func (h *hookOutput) Write(p []byte) (int, error) {
	h.pending = append(h.pending, p...)
	out, n := h.red.process(h.pending, false)
	h.pending = append(h.pending[:0], h.pending[n:]...)
	h.emit(out)
	return len(p), nil
}

// Close flushes the remaining bytes; it returns the kept output.
func (h *hookOutput) finish() string {
	out, _ := h.red.process(h.pending, true)
	h.pending = nil
	h.emit(out)
	if h.truncated {
		h.log.line(h.prefix, "[output truncated]")
	}
	h.log.flush(h.prefix)
	return h.kept.String()
}

func (h *hookOutput) emit(b []byte) {
	if room := maxHookOutput - h.kept.Len(); len(b) > room {
		b = b[:max(room, 0)]
		h.truncated = true
	}
	h.kept.Write(b)
	h.log.write(h.prefix, b)
}

// lineLog is the deployment log shared by all servers: whole lines only,
// each prefixed, safe for concurrent use.
type lineLog struct {
	mu      sync.Mutex
	w       io.Writer
	partial map[string][]byte
}

func newLineLog(w io.Writer) *lineLog {
	if w == nil {
		w = io.Discard
	}
	return &lineLog{w: w, partial: map[string][]byte{}}
}

func (l *lineLog) write(prefix string, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	buf := append(l.partial[prefix], b...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		_, _ = io.WriteString(l.w, prefix+string(buf[:i+1]))
		buf = buf[i+1:]
	}
	l.partial[prefix] = append([]byte(nil), buf...)
}

func (l *lineLog) flush(prefix string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rest := l.partial[prefix]; len(rest) > 0 {
		_, _ = io.WriteString(l.w, prefix+string(rest)+"\n")
	}
	delete(l.partial, prefix)
}

// line writes one complete line.
func (l *lineLog) line(prefix, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, prefix+msg+"\n")
}
