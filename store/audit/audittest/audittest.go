// Package audittest builds real audit logs in temporary databases (on the
// engine of the test, see storetest) and tampers with them the way someone
// holding the SQLite file or a PostgreSQL superuser connection could, for
// tests of Verify and of `tollgate verify`.
package audittest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// KeyName is the signing key name of fixtures.
const KeyName = "test-key"

// Keys is a signing key pair, as strings and as files written by `tollgate init`.
type Keys struct {
	Signer         note.Signer
	Verifier       note.Verifier
	PrivateKey     string // "PRIVATE+KEY+test-key+..."
	PublicKey      string // "test-key+<hash>+<key>"
	PublicKeyFile  string
	PrivateKeyFile string
}

// NewKeys generates a key pair named name and writes it to dir.
func NewKeys(t testing.TB, dir, name string) Keys {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	k := Keys{PrivateKey: skey, PublicKey: vkey,
		PrivateKeyFile: filepath.Join(dir, name+".key"), PublicKeyFile: filepath.Join(dir, name+".pub")}
	if k.Signer, err = note.NewSigner(skey); err != nil {
		t.Fatal(err)
	}
	if k.Verifier, err = note.NewVerifier(vkey); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.PrivateKeyFile, []byte(skey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(k.PublicKeyFile, []byte(vkey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return k
}

// Fixture is an audit log in a temp database, closed and ready to verify.
type Fixture struct {
	Path string // the database's location: a file, or a postgres:// URL
	Keys Keys
}

// Build writes n events (one transaction each, checkpoint every `every`)
// to a new database in a temp dir and closes it. Event i is done by
// "user<i%5>" on "request/<i>"; timestamps advance one second per event.
func Build(t testing.TB, n, every int) Fixture {
	t.Helper()
	dir := t.TempDir()
	f := Fixture{Path: storetest.LocationIn(t, dir), Keys: NewKeys(t, dir, KeyName)}
	clock := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	s, err := store.Open(context.Background(), f.Path, store.Options{
		Signer: f.Keys.Signer, CheckpointEvery: every, Synchronous: "OFF",
		Now: func() time.Time { clock = clock.Add(time.Second); return clock },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := 0; i < n; i++ {
		if err := s.WithTx(context.Background(), func(tx *sql.Tx) error {
			_, err := s.Audit().Append(context.Background(), tx, Event(i))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// Event is the i-th event of a fixture log.
func Event(i int) audit.Event {
	return audit.Event{
		Actor: fmt.Sprintf("user%d", i%5), Action: "request.approved", Subject: fmt.Sprintf("request/%d", i),
		Data: map[string]any{"environment": "production", "sha": fmt.Sprintf("%040x", i), "approvals": []string{"alice", "bob"}},
	}
}

// OpenRaw opens the database as an attacker would, with the sqlite3 CLI or
// psql as a superuser: no store, no migrations, the tables as they are.
func OpenRaw(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := store.OpenDB(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// DropTriggers gets the append-only triggers out of the way, as an
// attacker would first: drops them on SQLite, disables them on PostgreSQL
// (as a superuser or the tables' owner can).
func DropTriggers(t testing.TB, db *sql.DB) {
	t.Helper()
	if storetest.EngineOf(t) == storetest.Postgres {
		Exec(t, db, `ALTER TABLE audit_entries DISABLE TRIGGER USER; ALTER TABLE audit_checkpoints DISABLE TRIGGER USER;`)
		return
	}
	Exec(t, db, `DROP TRIGGER audit_entries_no_update; DROP TRIGGER audit_entries_no_delete;
		DROP TRIGGER audit_checkpoints_no_update; DROP TRIGGER audit_checkpoints_no_delete;`)
}

// Exec runs SQL or fails the test.
func Exec(t testing.TB, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// Rotated is a log whose first entries were checkpointed with key Old
// ("old-key") and the rest, after a key rotation, with key New ("new-key").
type Rotated struct {
	Path     string
	Old, New Keys
}

// BuildRotated follows the rotation procedure of docs/operations.md: it
// appends before events with Old (a checkpoint every `every`) and signs the
// shutdown checkpoint with Old, rotates (Old's final checkpoint at size
// before, the rotation entry at seq before, New's checkpoint at before+1),
// restarts with New, appends after events (a checkpoint every `every`)
// and signs a final shutdown checkpoint: before+after+1 entries.
func BuildRotated(t testing.TB, before, after, every int) Rotated {
	t.Helper()
	dir := t.TempDir()
	r := Rotated{Path: storetest.LocationIn(t, dir), Old: NewKeys(t, dir, "old-key"), New: NewKeys(t, dir, "new-key")}
	AppendWith(t, r.Path, r.Old.Signer, every, 0, before)
	Rotate(t, r.Path, r.Old.Signer, r.New.Signer)
	AppendWith(t, r.Path, r.New.Signer, every, before, after)
	return r
}

// Rotate hands the log at path over from signer old to next (Log.Rotate),
// as `tollgate audit rotate` does.
func Rotate(t testing.TB, path string, old, next note.Signer) audit.Handover {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, path, store.Options{Signer: old, Synchronous: "OFF"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h, err := s.Audit().Rotate(ctx, next)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Forge is what someone holding the database file and a signing key (a
// leaked retired one, say) can do without Tollgate: append n events and
// sign a checkpoint over the whole tree with signer, written straight into
// the file so no check of the store's stands in the way.
func Forge(t testing.TB, path string, signer note.Signer, n int) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, path, store.Options{Synchronous: "OFF"}) // no signer: no checkpoint, no key check
	if err != nil {
		t.Fatal(err)
	}
	size, err := s.Audit().Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := s.WithTx(ctx, func(tx *sql.Tx) error {
			_, err := s.Audit().Append(ctx, tx, Event(int(size)+i))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	size += int64(n)
	root, err := s.Audit().TreeHash(ctx, size)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	at := time.Date(2025, 3, 2, 9, 0, 0, 0, time.UTC)
	msg, err := note.Sign(&note.Note{Text: audit.FormatCheckpointText(audit.Origin(signer.Name()), size, root, at)}, signer)
	if err != nil {
		t.Fatal(err)
	}
	db := OpenRaw(t, path)
	Exec(t, db, `INSERT INTO audit_checkpoints (tree_size, signed_at, note) VALUES (?, ?, ?)`, size, at.Format(time.RFC3339Nano), string(msg))
}

// AppendWith opens the database at path with signer (a checkpoint every
// `every`), appends events first..first+n-1 (Event), signs a shutdown
// checkpoint and closes it.
func AppendWith(t testing.TB, path string, signer note.Signer, every, first, n int) {
	t.Helper()
	ctx := context.Background()
	clock := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(first) * time.Second)
	s, err := store.Open(ctx, path, store.Options{Signer: signer, CheckpointEvery: every, Synchronous: "OFF",
		Now: func() time.Time { clock = clock.Add(time.Second); return clock }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := first; i < first+n; i++ {
		if err := s.WithTx(ctx, func(tx *sql.Tx) error {
			_, err := s.Audit().Append(ctx, tx, Event(i))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Audit().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
}

// DataOf returns the raw data of the entries about subject with action, in
// log order: what tests assert an audit event carried.
func DataOf(t testing.TB, db *sql.DB, subject, action string) []string {
	t.Helper()
	rows, err := db.Query(`SELECT data FROM audit_entries WHERE subject = ? AND action = ? ORDER BY seq`, subject, action)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
