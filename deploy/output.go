package deploy

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// maxHookOutput bounds the output kept and logged per hook or health command.
const maxHookOutput = 64 << 10

const redacted = "[REDACTED]"

// redactor replaces secret values in text, including values split across
// writes and values that formatting escaped on their way into the text.
type redactor struct {
	secrets [][]byte // every form of every secret, longest first
	maxLen  int
}

func newRedactor(secrets []string) *redactor {
	r := &redactor{}
	seen := map[string]bool{}
	for _, s := range secrets {
		for _, f := range secretForms(s) {
			if f != "" && !seen[f] {
				seen[f] = true
				r.secrets = append(r.secrets, []byte(f))
				r.maxLen = max(r.maxLen, len(f))
			}
		}
	}
	sort.Slice(r.secrets, func(i, j int) bool { return len(r.secrets[i]) > len(r.secrets[j]) })
	return r
}

// secretForms lists what secret s can look like once formatted into text
// the engine produces: itself; Go-quoted (%q, %+q), JSON-escaped,
// single-quoted for a shell (an operator's command can only hold a secret
// with a quote in that form) and URL-escaped; and the shell and URL forms
// Go-quoted once more (an error quoting a command or URL). Redaction runs
// over the finished text, so whatever quoted a secret along the way, one of
// these forms is what remains.
func secretForms(s string) []string {
	if s == "" {
		return nil
	}
	inner := func(q string) string { return q[1 : len(q)-1] }
	js, _ := json.Marshal(s)
	base := []string{s, strings.ReplaceAll(s, "'", `'\''`), url.QueryEscape(s), url.PathEscape(s)}
	forms := append([]string(nil), base...)
	for _, b := range base {
		forms = append(forms, inner(strconv.Quote(b)), inner(strconv.QuoteToASCII(b)))
	}
	return append(forms, inner(string(js)))
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
// each prefixed, safe for concurrent use. Every line is redacted once it is
// complete, just before it is written: the last formatting step has run.
type lineLog struct {
	mu      sync.Mutex
	w       io.Writer
	red     *redactor
	partial map[string][]byte
}

func newLineLog(w io.Writer, red *redactor) *lineLog {
	if w == nil {
		w = io.Discard
	}
	return &lineLog{w: w, red: red, partial: map[string][]byte{}}
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
		l.emit(prefix + string(buf[:i+1]))
		buf = buf[i+1:]
	}
	l.partial[prefix] = append([]byte(nil), buf...)
}

func (l *lineLog) flush(prefix string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rest := l.partial[prefix]; len(rest) > 0 {
		l.emit(prefix + string(rest) + "\n")
	}
	delete(l.partial, prefix)
}

// line writes one complete line.
func (l *lineLog) line(prefix, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.emit(prefix + msg + "\n")
}

// emit writes one finished line, redacted; l.mu is held.
func (l *lineLog) emit(line string) {
	if l.red != nil {
		line = l.red.String(line)
	}
	_, _ = io.WriteString(l.w, line)
}

// result redacts every text of res the engine wrote: errors, hook commands
// and output, health details. It runs last, on the finished Result, so
// nothing formatted after an earlier redaction escapes it. Manifest and
// sent paths are the commit's own content and are left as they are.
func (r *redactor) result(res *Result) {
	res.Error = r.String(res.Error)
	for i := range res.Servers {
		s := &res.Servers[i]
		s.Error = r.String(s.Error)
		for j := range s.Steps {
			s.Steps[j].Error = r.String(s.Steps[j].Error)
		}
		for j := range s.Hooks {
			s.Hooks[j].Command = r.String(s.Hooks[j].Command)
			s.Hooks[j].Output = r.String(s.Hooks[j].Output)
		}
		if s.Health != nil {
			h := *s.Health
			h.Detail = r.String(h.Detail)
			s.Health = &h
		}
	}
}
