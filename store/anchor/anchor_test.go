package anchor_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/anchor"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// repoPublisher is an anchor repository in memory: one file per day, as
// the GitHub publisher writes it.
type repoPublisher struct {
	mu    sync.Mutex
	files map[string][][]byte
	fail  bool
}

func (p *repoPublisher) Publish(_ context.Context, cp audit.Checkpoint) (anchor.Receipt, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fail {
		return anchor.Receipt{}, fmt.Errorf("github is down")
	}
	path := "checkpoints/" + cp.Time.UTC().Format("2006-01-02") + ".txt"
	for _, n := range p.files[path] {
		if string(n) == string(cp.Note) {
			return anchor.Receipt{Repository: "acme/audit-anchors", Path: path}, nil
		}
	}
	p.files[path] = append(p.files[path], cp.Note)
	return anchor.Receipt{Repository: "acme/audit-anchors", Path: path, Commit: fmt.Sprintf("c%d", cp.Size)}, nil
}

func (p *repoPublisher) anchored() []anchor.Anchored {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []anchor.Anchored
	for path, notes := range p.files {
		for _, n := range notes {
			out = append(out, anchor.Anchored{Path: path, Note: n})
		}
	}
	return out
}

// anchoredLog builds a TamperSize log (checkpoints at 100 and 200),
// publishes its checkpoints and returns the fixture and the repository.
func anchoredLog(t *testing.T) (audittest.Fixture, *repoPublisher) {
	t.Helper()
	ctx := context.Background()
	f := audittest.Build(t, audittest.TamperSize, audittest.TamperEvery)
	s, err := store.Open(ctx, f.Path, store.Options{Signer: f.Keys.Signer})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	pub := &repoPublisher{files: map[string][][]byte{}}
	a := anchor.New(s, pub, f.Keys.Verifier, nil)
	pub.fail = true
	if n, err := a.PublishPending(ctx); err == nil || n != 0 {
		t.Fatalf("publish while the repository is down = %d, %v", n, err)
	}
	pub.fail = false
	if n, err := a.PublishPending(ctx); err != nil || n != 2 {
		t.Fatalf("published %d, %v; want the 2 checkpoints", n, err)
	}
	if n, err := a.PublishPending(ctx); err != nil || n != 0 {
		t.Fatalf("published again: %d, %v", n, err)
	}
	var audited []string
	rows, err := s.DB().Query(`SELECT data FROM audit_entries WHERE action = 'anchor.published' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			t.Fatal(err)
		}
		audited = append(audited, d)
	}
	if len(audited) != 2 || !strings.Contains(audited[0], `"size":100`) || !strings.Contains(audited[1], `"commit":"c200"`) {
		t.Fatalf("anchor.published entries: %v", audited)
	}
	// A checkpoint over the anchor entries themselves, as shutdown writes.
	if _, err := s.Audit().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := a.PublishPending(ctx); err != nil || n != 1 {
		t.Fatalf("published %d after the shutdown checkpoint, %v", n, err)
	}
	return f, pub
}

// resign replaces every stored checkpoint by one signed with the same key
// over the rows as they are now: what an attacker holding the database and
// the signing key would do after rewriting history.
func resign(t *testing.T, db *sql.DB, signer note.Signer) {
	t.Helper()
	all := audittest.Rehashed(t, db)
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = all[x]
		}
		return out, nil
	})
	rows, err := db.Query(`SELECT id, tree_size FROM audit_checkpoints`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ id, size int64 }
	var cps []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.size); err != nil {
			t.Fatal(err)
		}
		cps = append(cps, r)
	}
	rows.Close()
	for _, c := range cps {
		root, err := tlog.TreeHash(c.size, reader)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := note.Sign(&note.Note{Text: audit.FormatCheckpointText(audit.Origin(audittest.KeyName), c.size, root,
			time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))}, signer)
		if err != nil {
			t.Fatal(err)
		}
		audittest.Exec(t, db, `UPDATE audit_checkpoints SET note = ? WHERE id = ?`, string(msg), c.id)
	}
}

func TestCheckAnchors(t *testing.T) { storetest.Run(t, testCheckAnchors) }

func testCheckAnchors(t *testing.T) {
	cases := []struct {
		name        string
		tamper      func(t *testing.T, f audittest.Fixture, db *sql.DB, pub *repoPublisher)
		wantLocalOK bool
		want        string // in the problem; empty means OK
	}{
		{name: "untouched log is consistent with every anchor", wantLocalOK: true},
		{name: "log rewritten consistently and re-signed with the same key", wantLocalOK: true,
			tamper: func(t *testing.T, f audittest.Fixture, db *sql.DB, _ *repoPublisher) {
				audittest.DropTriggers(t, db)
				audittest.Exec(t, db, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = 42`)
				audittest.Rehash(t, db)
				resign(t, db, f.Keys.Signer)
			},
			want: "(tree size 100): signed at 2025-03-01T09:01:41Z with root"},
		{name: "log truncated and its local checkpoints dropped", wantLocalOK: true,
			tamper: func(t *testing.T, f audittest.Fixture, db *sql.DB, _ *repoPublisher) {
				audittest.DropTriggers(t, db)
				audittest.Exec(t, db, `DELETE FROM audit_entries WHERE seq >= 150`)
				audittest.Exec(t, db, `DELETE FROM audit_checkpoints WHERE tree_size > 150`)
			},
			want: "(tree size 200): signed at 2025-03-01T09:03:22Z for 200 entries, but the local log has only 150 (log truncated)"},
		{name: "an anchored checkpoint signed by another key", wantLocalOK: true,
			tamper: func(t *testing.T, _ audittest.Fixture, _ *sql.DB, pub *repoPublisher) {
				skey, _, err := note.GenerateKey(rand.Reader, audittest.KeyName)
				if err != nil {
					t.Fatal(err)
				}
				signer, _ := note.NewSigner(skey)
				msg, _ := note.Sign(&note.Note{Text: audit.FormatCheckpointText(audit.Origin(audittest.KeyName), 10, tlog.Hash{}, time.Now())}, signer)
				pub.files["checkpoints/2025-03-02.txt"] = [][]byte{msg}
			},
			want: "anchored checkpoint in checkpoints/2025-03-02.txt: not signed by key test-key+"},
		{name: "an edited entry fails locally before anchors are looked at",
			tamper: func(t *testing.T, _ audittest.Fixture, db *sql.DB, _ *repoPublisher) {
				audittest.DropTriggers(t, db)
				audittest.Exec(t, db, `UPDATE audit_entries SET data = '{}' WHERE seq = 7`)
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, pub := anchoredLog(t)
			db := audittest.OpenRaw(t, f.Path)
			if tc.tamper != nil {
				tc.tamper(t, f, db, pub)
			}
			r, err := anchor.Check(context.Background(), db, audit.Keyring{f.Keys.Verifier}, pub.anchored())
			if err != nil {
				t.Fatal(err)
			}
			if r.Local.OK != tc.wantLocalOK {
				t.Fatalf("local verify OK = %v (%v), want %v", r.Local.OK, r.Local.Problem, tc.wantLocalOK)
			}
			switch {
			case !tc.wantLocalOK:
				if r.OK {
					t.Fatal("check passed on a log that fails local verification")
				}
			case tc.want == "":
				if !r.OK || r.Checked != 3 || r.Largest != 253 {
					t.Fatalf("report %+v, problem %v", r, r.Problem)
				}
			default:
				if r.OK || r.Problem == nil || !strings.Contains(r.Problem.String(), tc.want) {
					t.Fatalf("problem %v, want it to contain %q", r.Problem, tc.want)
				}
			}
		})
	}
}
