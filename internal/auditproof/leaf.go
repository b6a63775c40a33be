// Package auditproof checks Tollgate audit-log proofs offline: the leaf
// encoding of an entry, signed checkpoints and inclusion proofs. It is the
// pure part of store/audit, without a database, for verifiers that must not
// pull in storage (deploy/attest). Its encodings are store/audit's, byte
// for byte; the tests hold the two together.
package auditproof

import (
	"encoding/binary"

	"golang.org/x/mod/sumdb/tlog"
)

// leafVersion tags the leaf encoding (store/audit's leafVersion).
const leafVersion = "tollgate-audit-leaf-v1"

// Entry is one audit entry as stored and hashed: At is the stored RFC 3339
// text and Data the canonical JSON bytes, both exactly as hashed.
type Entry struct {
	Seq                    int64
	At                     string
	Actor, Action, Subject string
	Data                   []byte
}

// AppendLeaf appends the canonical leaf bytes of an entry to dst: the
// version tag, then seq (8 bytes big-endian), at, actor, action, subject
// and data, each as a uint64 big-endian length followed by the bytes.
func AppendLeaf(dst []byte, e Entry) []byte {
	var seq [8]byte
	binary.BigEndian.PutUint64(seq[:], uint64(e.Seq))
	dst = appendField(dst, []byte(leafVersion))
	dst = appendField(dst, seq[:])
	for _, f := range []string{e.At, e.Actor, e.Action, e.Subject} {
		dst = appendField(dst, []byte(f))
	}
	return appendField(dst, e.Data)
}

// LeafHash is the RFC 6962 leaf hash of the entry's canonical encoding.
func (e Entry) LeafHash() tlog.Hash { return tlog.RecordHash(AppendLeaf(nil, e)) }

func appendField(dst, b []byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(len(b)))
	return append(dst, b...)
}
