package store_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// verifyAt verifies the audit log at loc with keys.
func verifyAt(t *testing.T, loc string, keys audittest.Keys) audit.Report {
	t.Helper()
	s, err := store.OpenReadOnly(context.Background(), loc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := audit.Verify(context.Background(), s.DB(), keys.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// An install moves from its SQLite file to PostgreSQL: every table comes
// along, the audit log has the same leaves and root, verifies with the
// same checkpoints, and the store carries on there.
func TestCopySQLiteToPostgres(t *testing.T) {
	ctx := context.Background()
	h := evidencetest.Build(t, 60, 7) // a real history on SQLite
	h.Store.Close()
	before := verifyAt(t, h.DBPath, h.Keys)
	if !before.OK || before.Checkpoints == 0 {
		t.Fatalf("the source does not verify: %+v", before.Problem)
	}
	to := storetest.NewSchema(t, false)
	rep, err := store.Copy(ctx, h.DBPath, to, store.CopyOptions{Verifiers: []note.Verifier{h.Keys.Verifier}})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Verified || !rep.Verify.OK || rep.AuditSize != before.Size || rep.AuditRoot != before.Root {
		t.Fatalf("copy report: size %d root %s verified %v %v; the source had %d entries, root %s",
			rep.AuditSize, rep.AuditRoot, rep.Verified, rep.Verify.Problem, before.Size, before.Root)
	}
	after := verifyAt(t, to, h.Keys)
	if !after.OK || after.Size != before.Size || after.Root != before.Root || after.Checkpoints != before.Checkpoints ||
		string(after.LastCheckpoint.Note) != string(before.LastCheckpoint.Note) {
		t.Fatalf("on PostgreSQL: ok=%v size %d root %s, %d checkpoints; want %d, %s, %d and the same last note",
			after.OK, after.Size, after.Root, after.Checkpoints, before.Size, before.Root, before.Checkpoints)
	}
	rows := map[string]int64{}
	for _, tc := range rep.Tables {
		rows[tc.Name] = tc.Rows
	}
	for _, table := range []string{"requests", "approvals", "audit_entries", "audit_checkpoints", "access_reviews", "identity_links"} {
		if rows[table] == 0 {
			t.Errorf("no %s copied (report %v)", table, rep.Tables)
		}
	}

	src, err := store.OpenReadOnly(ctx, h.DBPath)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := store.Open(ctx, to, store.Options{Signer: h.Keys.Signer})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	all := bot.RequestFilter{Limit: 10000}
	want, err := src.ListRequests(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	got, err := dst.ListRequests(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("the requests read back differ (%d vs %d)", len(got), len(want))
	}
	// The copy is a working store: new rows take fresh ids, the log goes on.
	if _, err := dst.Enqueue(ctx, store.InboxItem{Source: "github", DeliveryID: "after-the-move", EventType: "push"}); err != nil {
		t.Fatal(err)
	}
	if err := dst.AppendAudit(ctx, bot.AuditEvent{Actor: "tollgate", Action: "store.migrated", Subject: "database"}); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Audit().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if r := verifyAt(t, to, h.Keys); !r.OK || r.Size != before.Size+1 || r.UnsignedTail != 0 {
		t.Fatalf("after a new entry: ok=%v size %d tail %d, %v", r.OK, r.Size, r.UnsignedTail, r.Problem)
	}
}

// A copy never lands on data: a second copy into the same database is
// refused before anything is written.
func TestCopyRefusesANonEmptyTarget(t *testing.T) {
	ctx := context.Background()
	f := audittest.Build(t, 30, 10)
	to := storetest.NewSchema(t, false)
	if _, err := store.Copy(ctx, f.Path, to, store.CopyOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := store.Copy(ctx, f.Path, to, store.CopyOptions{})
	if !errors.Is(err, store.ErrTargetNotEmpty) || !strings.Contains(err.Error(), "table audit_checkpoints holds 3 rows") {
		t.Fatalf("second copy: %v, want ErrTargetNotEmpty naming the table", err)
	}
	if r := verifyAt(t, to, f.Keys); !r.OK || r.Size != 30 {
		t.Fatalf("the target changed: ok=%v size %d", r.OK, r.Size)
	}
}

// The other way: a PostgreSQL log handed to an auditor as a SQLite file,
// tampering and all. What was changed on PostgreSQL (as a superuser,
// triggers disabled) is found in the copy, at the same entry.
func TestCopyPostgresToSQLiteKeepsTheEvidence(t *testing.T) {
	storetest.RunOn(t, storetest.Postgres, func(t *testing.T) {
		ctx := context.Background()
		f := audittest.Build(t, audittest.TamperSize, audittest.TamperEvery)
		tamper := audittest.Tampers()[0] // data edited
		tamper.Apply(t, audittest.OpenRaw(t, f.Path))
		file := filepath.Join(t.TempDir(), "auditor.db")
		rep, err := store.Copy(ctx, f.Path, file, store.CopyOptions{Verifiers: []note.Verifier{f.Keys.Verifier}})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verify.OK || !strings.Contains(rep.Verify.Problem.String(), tamper.Want) {
			t.Fatalf("verify of the copy: %v, want %q", rep.Verify.Problem, tamper.Want)
		}
		if r := verifyAt(t, file, f.Keys); r.OK || r.Problem.String() != rep.Verify.Problem.String() {
			t.Fatalf("the copy's own verify: %v", r.Problem)
		}
	})
}

func TestCopyRefusesWhatIsNotATollgateDatabase(t *testing.T) {
	ctx := context.Background()
	to := filepath.Join(t.TempDir(), "to.db")
	missing := filepath.Join(t.TempDir(), "missing.db")
	if _, err := store.Copy(ctx, missing, to, store.CopyOptions{}); err == nil {
		t.Fatal("copied from a missing file")
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the missing source was created: %v", err)
	}
	other := filepath.Join(t.TempDir(), "other.db")
	db, err := sql.Open("sqlite3", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := store.Copy(ctx, other, to, store.CopyOptions{}); err == nil || !strings.Contains(err.Error(), "not a tollgate database") {
		t.Fatalf("copy from a foreign database: %v", err)
	}
	if _, err := store.Copy(ctx, to, to, store.CopyOptions{}); err == nil || !strings.Contains(err.Error(), "the same database") {
		t.Fatalf("copy onto itself: %v", err)
	}
}
