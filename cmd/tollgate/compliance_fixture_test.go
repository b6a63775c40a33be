package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/tollgate-dev/tollgate/deploy/attest"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

// complianceFixture is a fake GitHub with org acme and the app installed,
// an audit log in a temp dir, and a tollgate.yml pointing at both.
type complianceFixture struct {
	gh           *githubtest.Server
	installation int64
	log          audittest.Fixture
	dir          string
	config       string
}

const anchorRepo = "acme/audit-anchors"

func newComplianceFixture(t *testing.T, entries, every int) *complianceFixture {
	t.Helper()
	gh := githubtest.New()
	t.Cleanup(gh.Close)
	inst := gh.AddInstallation("acme")
	gh.AddRepo(anchorRepo)
	gh.SetFile(anchorRepo, "main", "README.md", []byte("audit anchors\n"))
	f := &complianceFixture{gh: gh, installation: inst, log: audittest.Build(t, entries, every)}
	f.dir = filepath.Dir(f.log.Path)
	writeFile(t, filepath.Join(f.dir, "app.pem"), gh.AppPrivateKeyPEM(), 0o600)
	if _, err := attest.GenerateKeyFiles(filepath.Join(f.dir, "attest.key"), filepath.Join(f.dir, "attest.pub"), "tollgate-attestation"); err != nil {
		t.Fatal(err)
	}
	return f
}

// writeConfig writes tollgate.yml with repos as the repositories section.
func (f *complianceFixture) writeConfig(t *testing.T, extraTop, repos string) {
	t.Helper()
	cfg := fmt.Sprintf(`public_url: https://tollgate.example.com
database: %s
audit:
  signing_key_file: %s
  checkpoint_every: 100
  anchor_repository: %s
attestation:
  signing_key_file: attest.key
github:
  api_url: %s
  web_url: %s
  app_id: %d
  private_key_file: app.pem
  webhook_secret: test-secret
  oauth_client_id: test-client
  oauth_client_secret: test-client-secret
  org: acme
%s
repositories:
%s`, filepath.Base(f.log.Path), filepath.Base(f.log.Keys.PrivateKeyFile), anchorRepo, f.gh.APIURL(), f.gh.URL(),
		f.gh.AppID(), extraTop, repos)
	f.config = filepath.Join(f.dir, "tollgate.yml")
	writeFile(t, f.config, []byte(cfg), 0o600)
}

func writeFile(t *testing.T, path string, b []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// resignCheckpoints replaces every stored checkpoint by one signed with
// the same key over the rows as they are now, as an attacker holding the
// database and the key would after rewriting history.
func resignCheckpoints(t *testing.T, db *sql.DB, signer note.Signer) {
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
	var ids, sizes []int64
	for rows.Next() {
		var id, size int64
		if err := rows.Scan(&id, &size); err != nil {
			t.Fatal(err)
		}
		ids, sizes = append(ids, id), append(sizes, size)
	}
	rows.Close()
	for i := range ids {
		root, err := tlog.TreeHash(sizes[i], reader)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := note.Sign(&note.Note{Text: audit.FormatCheckpointText(audit.Origin(audittest.KeyName), sizes[i], root,
			time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))}, signer)
		if err != nil {
			t.Fatal(err)
		}
		audittest.Exec(t, db, `UPDATE audit_checkpoints SET note = ? WHERE id = ?`, string(msg), ids[i])
	}
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
