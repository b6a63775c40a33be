package audittest

import (
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/store/audit"
)

// TamperSize and TamperEvery shape the log the tamper cases expect:
// entries 0..250, checkpoints 1 (size 100) and 2 (size 200), 51 unsigned.
const (
	TamperSize  = 251
	TamperEvery = 100
)

// Tamper is one way of changing a log behind the store's back, and the
// text Verify's first problem must contain.
type Tamper struct {
	Name  string
	Apply func(t testing.TB, db *sql.DB)
	Want  string
}

// Tampers lists the attacks Verify must detect on a TamperSize log.
func Tampers() []Tamper {
	return []Tamper{
		{"data edited", func(t testing.TB, db *sql.DB) {
			DropTriggers(t, db)
			Exec(t, db, `UPDATE audit_entries SET data = '{"approvals":["mallory"]}' WHERE seq = 42`)
		}, "entry seq 42: leaf hash does not match the entry's contents"},
		{"actor edited and every hash after it recomputed", func(t testing.TB, db *sql.DB) {
			DropTriggers(t, db)
			Exec(t, db, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = 42`)
			Rehash(t, db)
		}, "checkpoint 1 (tree size 100): signed root"},
		{"row deleted", func(t testing.TB, db *sql.DB) {
			DropTriggers(t, db)
			Exec(t, db, `DELETE FROM audit_entries WHERE seq = 77`)
		}, "entry seq 77: missing (the next stored entry is seq 78)"},
		{"two rows swapped", func(t testing.TB, db *sql.DB) {
			DropTriggers(t, db)
			Exec(t, db, `UPDATE audit_entries SET seq = -1 WHERE seq = 120;
				UPDATE audit_entries SET seq = 120 WHERE seq = 130;
				UPDATE audit_entries SET seq = 130 WHERE seq = -1;`)
		}, "entry seq 120: leaf hash does not match the entry's contents"},
		{"row inserted with a copied leaf hash", func(t testing.TB, db *sql.DB) {
			Exec(t, db, `INSERT INTO audit_entries SELECT 251, at, 'mallory', action, subject, data, leaf_hash, tree_hashes FROM audit_entries WHERE seq = 250`)
		}, "entry seq 251: leaf hash does not match the entry's contents"},
		{"row inserted with its own leaf hash but tree hashes that do not fit", func(t testing.TB, db *sql.DB) {
			at := "2025-03-01T10:00:00Z"
			data := `{"environment":"production"}`
			leaf := tlog.RecordHash(audit.AppendLeaf(nil, 251, at, "mallory", "request.approved", "request/251", []byte(data)))
			Exec(t, db, `INSERT INTO audit_entries SELECT 251, ?, 'mallory', 'request.approved', 'request/251', ?, ?, tree_hashes FROM audit_entries WHERE seq = 3`,
				at, data, leaf[:])
		}, "entry seq 251: stored tree hash at level 1 (over entries 250..251) does not match"},
		{"row replaced by one with its own leaf hash", func(t testing.TB, db *sql.DB) {
			DropTriggers(t, db)
			Exec(t, db, `DELETE FROM audit_entries WHERE seq = 60`)
			at := "2025-03-01T10:00:00Z"
			data := `{"environment":"production"}`
			leaf := tlog.RecordHash(audit.AppendLeaf(nil, 60, at, "mallory", "request.approved", "request/60", []byte(data)))
			Exec(t, db, `INSERT INTO audit_entries VALUES (60, ?, 'mallory', 'request.approved', 'request/60', ?, ?, ?)`, at, data, leaf[:], []byte{})
		}, "entry seq 61: stored tree hash at level 1 (over entries 60..61) does not match"},
		{"checkpoint signature forged", func(t testing.TB, db *sql.DB) {
			DropTriggers(t, db)
			msg := checkpointNote(t, db, 1)
			i := strings.LastIndex(msg, " ")
			sig, err := base64.StdEncoding.DecodeString(strings.TrimSpace(msg[i+1:]))
			if err != nil {
				t.Fatal(err)
			}
			sig[len(sig)-1] ^= 0x01
			Exec(t, db, `UPDATE audit_checkpoints SET note = ? WHERE id = 1`, msg[:i+1]+base64.StdEncoding.EncodeToString(sig)+"\n")
		}, "checkpoint 1 (tree size 100): signature check failed: invalid signature for key test-key"},
		{"checkpoint root replaced, signature kept", func(t testing.TB, db *sql.DB) {
			DropTriggers(t, db)
			msg := strings.Split(checkpointNote(t, db, 2), "\n")
			msg[2] = base64.StdEncoding.EncodeToString(make([]byte, 32))
			Exec(t, db, `UPDATE audit_checkpoints SET note = ? WHERE id = 2`, strings.Join(msg, "\n"))
		}, "checkpoint 2 (tree size 200): signature check failed: invalid signature for key test-key"},
		{"checkpoint signed by a different key", func(t testing.TB, db *sql.DB) {
			// The attacker's key has the same name; only its hash differs.
			skey, _, err := note.GenerateKey(rand.Reader, KeyName)
			if err != nil {
				t.Fatal(err)
			}
			signer, err := note.NewSigner(skey)
			if err != nil {
				t.Fatal(err)
			}
			all := Rehashed(t, db)
			root, err := tlog.TreeHash(TamperSize, tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
				out := make([]tlog.Hash, len(idx))
				for i, x := range idx {
					out[i] = all[x]
				}
				return out, nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			msg, err := note.Sign(&note.Note{Text: audit.FormatCheckpointText(audit.Origin(KeyName), TamperSize, root, time.Now())}, signer)
			if err != nil {
				t.Fatal(err)
			}
			Exec(t, db, `INSERT INTO audit_checkpoints (tree_size, signed_at, note) VALUES (?, ?, ?)`, TamperSize, "2025-03-01T10:00:00Z", string(msg))
		}, "checkpoint 3 (tree size 251): not signed by key test-key+"},
		{"log truncated below a checkpoint", func(t testing.TB, db *sql.DB) {
			DropTriggers(t, db)
			Exec(t, db, `DELETE FROM audit_entries WHERE seq >= 150`)
		}, "entry seq 150: missing: the log ends at size 150 but checkpoint 2 signed at"},
	}
}

func checkpointNote(t testing.TB, db *sql.DB, id int) string {
	t.Helper()
	var msg string
	if err := db.QueryRow(`SELECT note FROM audit_checkpoints WHERE id = ?`, id).Scan(&msg); err != nil {
		t.Fatal(err)
	}
	return msg
}

// Rehashed recomputes every stored hash from the rows as they are now, in
// tlog's stored-hash order, the way an attacker who knows the format would.
func Rehashed(t testing.TB, db *sql.DB) []tlog.Hash {
	t.Helper()
	rows, err := db.Query(`SELECT seq, at, actor, action, subject, data FROM audit_entries ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var all []tlog.Hash
	r := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = all[x]
		}
		return out, nil
	})
	for rows.Next() {
		var seq int64
		var at, actor, action, subject, data string
		if err := rows.Scan(&seq, &at, &actor, &action, &subject, &data); err != nil {
			t.Fatal(err)
		}
		hs, err := tlog.StoredHashes(seq, audit.AppendLeaf(nil, seq, at, actor, action, subject, []byte(data)), r)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, hs...)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return all
}

// Rehash rewrites every row's stored hashes to fit its current contents.
func Rehash(t testing.TB, db *sql.DB) {
	t.Helper()
	all := Rehashed(t, db)
	for seq := int64(0); tlog.StoredHashIndex(0, seq) < int64(len(all)); seq++ {
		lo, hi := tlog.StoredHashIndex(0, seq), tlog.StoredHashIndex(0, seq+1)
		interior := []byte{}
		for _, h := range all[lo+1 : hi] {
			interior = append(interior, h[:]...)
		}
		Exec(t, db, `UPDATE audit_entries SET leaf_hash = ?, tree_hashes = ? WHERE seq = ?`, all[lo][:], interior, seq)
	}
}
