package audit_test

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// leafFields are the fields AppendLeaf encodes, in order.
type leafFields struct {
	seq                              int64
	at, actor, action, subject, data string
}

// decodeLeaf reads leaf bytes back into their fields. A successful decode
// of every encoding to the fields it came from proves the encoding is
// injective: two different entries can never share leaf bytes (and so a
// hash) unless SHA-256 collides.
func decodeLeaf(b []byte) (leafFields, bool) {
	var parts [7][]byte
	for i := range parts {
		if len(b) < 8 {
			return leafFields{}, false
		}
		n := binary.BigEndian.Uint64(b)
		b = b[8:]
		if n > uint64(len(b)) {
			return leafFields{}, false
		}
		parts[i], b = b[:n], b[n:]
	}
	if len(b) != 0 || string(parts[0]) != "tollgate-audit-leaf-v1" || len(parts[1]) != 8 {
		return leafFields{}, false
	}
	return leafFields{
		seq: int64(binary.BigEndian.Uint64(parts[1])),
		at:  string(parts[2]), actor: string(parts[3]), action: string(parts[4]),
		subject: string(parts[5]), data: string(parts[6]),
	}, true
}

// FuzzAppendLeaf checks the leaf encoding: it decodes back to exactly the
// fields it was given (so it is injective), it only appends to dst, and
// LeafBytes agrees with AppendLeaf for an Entry.
func FuzzAppendLeaf(f *testing.F) {
	f.Add(int64(0), "2025-01-02T03:04:05.123456789Z", "alice", "request.approved", "request/42", []byte(`{"env":"production"}`), []byte(nil))
	f.Add(int64(1), "", "", "", "", []byte(nil), []byte("prefix"))
	// Moving a byte across a field boundary must change the encoding.
	f.Add(int64(7), "t", "ab", "c", "", []byte("{}"), []byte{0})
	f.Add(int64(7), "t", "a", "bc", "", []byte("{}"), []byte{0})
	f.Add(int64(-1), "x\x00y", "slack:U123", "a\nb", "s", []byte{0, 0, 0, 0, 0, 0, 0, 1}, []byte(nil))
	f.Fuzz(func(t *testing.T, seq int64, at, actor, action, subject string, data, dst []byte) {
		want := leafFields{seq: seq, at: at, actor: actor, action: action, subject: subject, data: string(data)}
		prefix := bytes.Clone(dst)
		// A dst of its own with spare room: AppendLeaf must append in place
		// (the fuzzer's arguments may share memory with each other).
		buf := append(make([]byte, 0, len(dst)+64), dst...)
		out := audit.AppendLeaf(buf, seq, at, actor, action, subject, data)
		if !bytes.Equal(out[:len(prefix)], prefix) {
			t.Fatal("AppendLeaf changed the bytes already in dst")
		}
		got, ok := decodeLeaf(out[len(prefix):])
		if !ok {
			t.Fatalf("leaf bytes %x do not decode", out[len(prefix):])
		}
		if got != want {
			t.Fatalf("leaf decodes to %+v, want %+v", got, want)
		}

		// LeafBytes formats At itself; feed it a time derived from the input.
		e := audit.Entry{Seq: seq, At: time.Unix(0, seq).UTC(), Actor: actor, Action: action, Subject: subject, Data: data}
		lb := audit.LeafBytes(e)
		formatted := e.At.Format(time.RFC3339Nano)
		if !bytes.Equal(lb, audit.AppendLeaf(nil, seq, formatted, actor, action, subject, data)) {
			t.Fatal("LeafBytes differs from AppendLeaf over the same fields")
		}
		if audit.LeafHash(e) != tlog.RecordHash(lb) {
			t.Fatal("LeafHash is not the RFC 6962 record hash of LeafBytes")
		}
	})
}

// FuzzLeafDistinct checks directly that two entries differing in any field
// have different leaf bytes and different leaf hashes.
func FuzzLeafDistinct(f *testing.F) {
	f.Add(int64(3), "ab", "c", "x", "y", int64(3), "a", "bc", "x", "y")
	f.Add(int64(3), "a", "b", "", "", int64(3), "a", "", "b", "")
	f.Add(int64(0), "", "", "", "", int64(1), "", "", "", "")
	f.Fuzz(func(t *testing.T, seq1 int64, actor1, action1, subject1, data1 string,
		seq2 int64, actor2, action2, subject2, data2 string) {
		at := time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC)
		e1 := audit.Entry{Seq: seq1, At: at, Actor: actor1, Action: action1, Subject: subject1, Data: []byte(data1)}
		e2 := audit.Entry{Seq: seq2, At: at, Actor: actor2, Action: action2, Subject: subject2, Data: []byte(data2)}
		same := seq1 == seq2 && actor1 == actor2 && action1 == action2 && subject1 == subject2 && data1 == data2
		if bytes.Equal(audit.LeafBytes(e1), audit.LeafBytes(e2)) != same {
			t.Fatalf("entries %+v and %+v: equal leaf bytes = %v, equal fields = %v",
				e1, e2, !same, same)
		}
		if (audit.LeafHash(e1) == audit.LeafHash(e2)) != same {
			t.Fatalf("entries %+v and %+v: leaf hashes equal = %v, fields equal = %v", e1, e2, !same, same)
		}
	})
}
