package evidence

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
)

// lineWriter writes audit entries one JSON object a line, byte for byte as
// encoding/json's Encoder (HTML escaping off) writes a jsonLine, without
// its reflection and validation where they cannot change a byte: an entry
// covered by a verified signed checkpoint holds the canonical JSON that was
// hashed and signed, and plain ASCII strings need no escaping. Anything
// else goes through encoding/json.
type lineWriter struct {
	w       *bufio.Writer
	trusted int64 // entries seq < trusted are covered by a verified checkpoint
	buf     []byte
	slow    bytes.Buffer
	enc     *json.Encoder
}

func newLineWriter(w *bufio.Writer, trusted int64) *lineWriter {
	l := &lineWriter{w: w, trusted: trusted}
	l.enc = json.NewEncoder(&l.slow)
	l.enc.SetEscapeHTML(false) // keep data byte-identical to what was hashed
	return l
}

// write writes e's line.
func (l *lineWriter) write(e entry) error {
	if e.Seq >= l.trusted || len(e.Data) == 0 || len(e.LeafHash) == 0 ||
		!plain(e.At) || !plain(e.Actor) || !plain(e.Action) || !plain(e.Subject) {
		l.slow.Reset()
		if err := l.enc.Encode(e.line()); err != nil {
			return fmt.Errorf("encode audit entry seq %d: %w", e.Seq, err)
		}
		_, err := l.w.Write(l.slow.Bytes())
		return err
	}
	b := append(l.buf[:0], `{"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = appendField(b, `,"at":"`, e.At)
	b = appendField(b, `,"actor":"`, e.Actor)
	b = appendField(b, `,"action":"`, e.Action)
	b = appendField(b, `,"subject":"`, e.Subject)
	b = append(b, `,"data":`...)
	b = append(b, e.Data...)
	b = append(b, `,"leaf_hash":"`...)
	b = base64.StdEncoding.AppendEncode(b, e.LeafHash)
	b = append(b, "\"}\n"...)
	l.buf = b
	_, err := l.w.Write(b)
	return err
}

func appendField(b []byte, key, v string) []byte {
	return append(append(append(b, key...), v...), '"')
}

// plain reports whether encoding/json writes s as is between quotes:
// printable ASCII without '"' or '\'.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}
