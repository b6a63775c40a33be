// Package audit is Tollgate's tamper-evident audit log: entries are leaves
// of an RFC 6962 Merkle tree (golang.org/x/mod/sumdb/tlog) kept in SQLite,
// with ed25519-signed checkpoints (golang.org/x/mod/sumdb/note) naming the
// tree size and root. Verify recomputes everything from the rows.
package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Event is what a caller records: who did what to which object, and the
// facts that explain it. Data must hold no secrets; it is stored as
// canonical JSON.
type Event struct {
	Actor   string // GitHub login, "slack:U123", or "tollgate" for the bot itself
	Action  string // e.g. "request.approved"
	Subject string // the object acted on, e.g. "request/42"
	Data    any    // marshalled to JSON, then canonicalised
}

// Entry is one stored audit entry. Seq is its leaf index, starting at 0.
type Entry struct {
	Seq      int64
	At       time.Time // UTC
	Actor    string
	Action   string
	Subject  string
	Data     json.RawMessage // canonical JSON
	LeafHash tlog.Hash
}

// leafVersion tags the encoding so a future format can never collide with this one.
const leafVersion = "tollgate-audit-leaf-v1"

// timeFormat is how At is stored and hashed.
const timeFormat = time.RFC3339Nano

// AppendLeaf appends the canonical leaf bytes of an entry to dst: the version
// tag, then seq (8 bytes big-endian), at, actor, action, subject and data,
// each as a uint64 big-endian length followed by the bytes. The length
// prefixes make the encoding injective: no two entries share leaf bytes.
func AppendLeaf(dst []byte, seq int64, at, actor, action, subject string, data []byte) []byte {
	return appendLeaf(dst, seq, at, actor, action, subject, data)
}

// appendLeaf also takes the text fields as bytes, so Verify hashes row
// bytes without copying them into strings.
func appendLeaf[S ~string | ~[]byte](dst []byte, seq int64, at, actor, action, subject S, data []byte) []byte {
	var seqBytes [8]byte
	binary.BigEndian.PutUint64(seqBytes[:], uint64(seq))
	dst = appendField(dst, []byte(leafVersion))
	dst = appendField(dst, seqBytes[:])
	dst = appendField(dst, at)
	dst = appendField(dst, actor)
	dst = appendField(dst, action)
	dst = appendField(dst, subject)
	return appendField(dst, data)
}

// LeafBytes is the canonical encoding of e (see AppendLeaf).
func LeafBytes(e Entry) []byte {
	return AppendLeaf(nil, e.Seq, formatTime(e.At), e.Actor, e.Action, e.Subject, e.Data)
}

// LeafHash is the RFC 6962 leaf hash of e's canonical encoding.
func LeafHash(e Entry) tlog.Hash { return tlog.RecordHash(LeafBytes(e)) }

func appendField[S ~string | ~[]byte](dst []byte, b S) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(b)))
	return append(dst, b...)
}

func formatTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// CanonicalJSON marshals v and rewrites it canonically: object keys sorted,
// no insignificant whitespace, numbers kept as written, no HTML escaping.
// A json.RawMessage or []byte holding JSON is canonicalised the same way.
func CanonicalJSON(v any) (json.RawMessage, error) {
	var raw []byte
	switch x := v.(type) {
	case json.RawMessage:
		raw = x
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("marshal audit data: %w", err)
		}
		raw = b
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, fmt.Errorf("audit data is not JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("audit data holds more than one JSON value")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tree); err != nil { // maps encode with sorted keys
		return nil, fmt.Errorf("encode audit data: %w", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
