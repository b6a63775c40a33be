package main

import (
	"database/sql"
	"github.com/tollgate-dev/tollgate/server"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/anchor"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

const anchorTestRepos = `  acme/api:
    environments:
      staging:
        deployers: [backend]
        servers:
          - host: staging.example.com
            user: deploy
        ssh:
          private_key_file: app.pem
          known_hosts_file: known_hosts
        path: /srv/api
`

// anchoredFixture is a TamperSize log whose checkpoints were published to
// the fake anchor repository through the real publisher.
func anchoredFixture(t *testing.T) *complianceFixture {
	t.Helper()
	f := newComplianceFixture(t, audittest.TamperSize, audittest.TamperEvery)
	writeFile(t, f.dir+"/known_hosts", nil, 0o644)
	f.writeConfig(t, "", anchorTestRepos)
	ctx := testCtx(t)
	cfg, _, err := config.Load(f.config)
	if err != nil {
		t.Fatal(err)
	}
	repo, err := server.AnchorRepository(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, f.log.Path, store.Options{Signer: f.log.Keys.Signer})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := anchor.New(s, server.AnchorPublisher(repo), f.log.Keys.Verifier, nil).PublishPending(ctx); err != nil || n != 2 {
		t.Fatalf("published %d, %v", n, err)
	}
	return f
}

func TestVerifyAnchors(t *testing.T) {
	cases := []struct {
		name     string
		tamper   func(t *testing.T, f *complianceFixture, db *sql.DB)
		wantCode int
		want     string
	}{
		{name: "untouched log", wantCode: exitOK,
			want: "anchors:         2 anchored checkpoints, the local log (253 entries) extends each (largest tree size 200)\nOK (anchors)\n"},
		{name: "rewritten consistently and re-signed with the same key", wantCode: exitCheckFailed,
			tamper: func(t *testing.T, f *complianceFixture, db *sql.DB) {
				audittest.DropTriggers(t, db)
				audittest.Exec(t, db, `UPDATE audit_entries SET subject = 'request/forged' WHERE seq = 120`)
				audittest.Rehash(t, db)
				resignCheckpoints(t, db, f.log.Keys.Signer)
			},
			want: "FAIL: anchored checkpoint in checkpoints/2025-03-01.txt (tree size 200): signed at 2025-03-01T09:03:22Z with root"},
		{name: "truncated below an anchored checkpoint", wantCode: exitCheckFailed,
			tamper: func(t *testing.T, f *complianceFixture, db *sql.DB) {
				audittest.DropTriggers(t, db)
				audittest.Exec(t, db, `DELETE FROM audit_entries WHERE seq >= 150`)
				audittest.Exec(t, db, `DELETE FROM audit_checkpoints WHERE tree_size > 150`)
			},
			want: "but the local log has only 150 (log truncated)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := anchoredFixture(t)
			if tc.tamper != nil {
				tc.tamper(t, f, audittest.OpenRaw(t, f.log.Path))
			}
			code, out, errOut := runCLI(t, "verify", "--config", f.config, "--anchors", "--anchors-since", "2025-02-27")
			if code != tc.wantCode || !strings.Contains(out, tc.want) {
				t.Fatalf("exit %d (want %d)\n%s%s\nwant output containing %q", code, tc.wantCode, out, errOut, tc.want)
			}
			if tc.wantCode == exitCheckFailed && !strings.Contains(out, "\nOK\n") && !strings.Contains(out, "OK (") {
				t.Fatalf("the local verification should pass on its own, the anchors catch it:\n%s", out)
			}
		})
	}
}

func TestVerifyAnchorsNeedsConfig(t *testing.T) {
	f := audittest.Build(t, 3, 0)
	code, _, errOut := runCLI(t, "verify", "--database", f.Path, "--public-key", f.Keys.PublicKeyFile, "--anchors")
	if code != exitUsage || !strings.Contains(errOut, "--anchors needs --config") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
