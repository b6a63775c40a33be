package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/deploy"
)

// TestRollbackRefusesATamperedRelease: an older release sits on the
// servers for weeks. Someone with a shell edits one of its files, or its
// manifest too, and waits for a rollback to put it live. The rollback
// checks the release on every server before anything runs in it, as an
// upload is checked: nothing switches, and the error names what changed.
func TestRollbackRefusesATamperedRelease(t *testing.T) {
	f := startOpenSSH(t, 2)
	r := newRepo(t)
	old := f.mustDeploy(t, r, r.write(map[string]string{"version.txt": "1\n", "lib/auth.php": "check password\n"}).commit("v1"))
	live := f.mustDeploy(t, r, r.write(map[string]string{"version.txt": "2\n"}).commit("v2"))
	oldDir := func(i int) string { return filepath.Join(f.roots[i], "releases", old.Release) }

	tests := []struct {
		name     string
		tamper   func(t *testing.T) (undo func())
		recorded string // Target.RecordedManifest's answer
		wantErr  string
	}{
		{"a file of the release edited on one server", func(t *testing.T) func() {
			p := filepath.Join(oldDir(1), "version.txt")
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte("1 and a backdoor\n"), 0o664); err != nil {
				t.Fatal(err)
			}
			return func() { _ = os.Remove(p); _ = os.WriteFile(p, []byte("1\n"), 0o664); _ = os.Chmod(p, 0o664) }
		}, "", "no longer matches its manifest, changed on the server after it was deployed (1 of its paths): changed version.txt"},
		{"the manifest differs between servers", func(t *testing.T) func() {
			p := filepath.Join(f.roots[1], ".tollgate", old.Release, "manifest")
			orig := readFile(t, p)
			if err := os.WriteFile(p, []byte(orig+"f\t0644\t3\t"+strings.Repeat("0", 64)+"\tplanted.php\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return func() { _ = os.WriteFile(p, []byte(orig), 0o644) }
		}, "", "its manifest differs from"},
		{"the manifest is not the one Tollgate deployed", func(*testing.T) func() { return func() {} },
			"sha256:" + strings.Repeat("b", 64), "is not the one Tollgate deployed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			undo := tt.tamper(t)
			defer undo()
			target := f.target
			target.RecordedManifest = func(_ context.Context, release string) (string, error) {
				if release != old.Release {
					t.Errorf("asked for the record of %s, want %s", release, old.Release)
				}
				return tt.recorded, nil
			}
			var log syncBuf
			res, err := f.engine.Rollback(context.Background(), target, old.Release, &log)
			if err == nil || res.Outcome != deploy.Failed || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "refusing to roll back") {
				t.Errorf("outcome %s, err %v; want failed with %q\n%s", res.Outcome, err, tt.wantErr, log.String())
			}
			for i, root := range f.roots {
				if got := current(t, root); got != live.Release {
					t.Errorf("server %d: current = %q, want %q still live", i, got, live.Release)
				}
			}
		})
	}

	// Untouched, with the right record, it rolls back.
	target := f.target
	target.RecordedManifest = func(context.Context, string) (string, error) { return old.ManifestDigest, nil }
	var log syncBuf
	if res, err := f.engine.Rollback(context.Background(), target, old.Release, &log); err != nil || res.Outcome != deploy.Succeeded {
		t.Fatalf("rollback of the untouched release: %s, %v\n%s", res.Outcome, err, log.String())
	}
	if !strings.Contains(log.String(), "verified release "+old.Release) {
		t.Errorf("the log does not say the release was verified:\n%s", log.String())
	}
}
