package evidence

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// The fast path writes exactly what encoding/json writes for a jsonLine.
func TestLineWriterMatchesEncodingJSON(t *testing.T) {
	data := func(v any) json.RawMessage {
		b, err := audit.CanonicalJSON(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	leaf := bytes.Repeat([]byte{0xfb, 0x01}, 16)
	entries := []entry{
		{Seq: 0, At: "2025-03-01T09:00:00.000000001Z", Actor: "alice", Action: "request.created", Subject: "r-7f3k2q",
			Data: data(map[string]any{"repo": "acme/shop", "reason": "ship <b> & \u2028 \"quoted\" \\ é 日本"}), LeafHash: leaf},
		{Seq: 1, At: "2025-03-01T09:00:01Z", Actor: "bob \"the builder\"", Action: "approval.granted", Subject: "r-1",
			Data: data(map[string]any{"n": 1}), LeafHash: leaf},
		{Seq: 2, At: "2025-03-01T09:00:02Z", Actor: "日本", Action: "x", Subject: "tab\there\u2028<>&",
			Data: data([]any{}), LeafHash: leaf},
		{Seq: 3, At: "2025-03-01T09:00:03Z", Actor: "tollgate", Action: "y", Subject: "",
			Data: json.RawMessage(`{"a":1}`), LeafHash: nil},
		{Seq: 4, At: "", Actor: "tollgate", Action: "z", Subject: "s", Data: json.RawMessage(`{"spaced": 1}`), LeafHash: leaf},
	}
	for _, trusted := range []int64{0, 4, 100} {
		var got, want bytes.Buffer
		bw := bufio.NewWriter(&got)
		lw := newLineWriter(bw, trusted)
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		for _, e := range entries[:4] { // entry 4's data is not canonical: only a tampered log holds such, never trusted
			if err := lw.write(e); err != nil {
				t.Fatal(err)
			}
			if err := enc.Encode(e.line()); err != nil {
				t.Fatal(err)
			}
		}
		if trusted <= 4 {
			if err := lw.write(entries[4]); err != nil {
				t.Fatal(err)
			}
			if err := enc.Encode(entries[4].line()); err != nil {
				t.Fatal(err)
			}
		}
		bw.Flush()
		if got.String() != want.String() {
			t.Errorf("trusted %d:\ngot  %s\nwant %s", trusted, got.String(), want.String())
		}
	}
}
