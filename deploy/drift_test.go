package deploy_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/deploy"
)

// TestTamperedLiveFileIsNotCarriedIntoTheNextRelease: an operator with file
// access edits a live file on one server (in place, and by replacing it).
// The next release changes another file only. Before the fix the edited
// file was hard-linked into the new release unhashed and the log said
// "verified"; now every file of the release is hashed before anything
// runs, and a hard-linked file that no longer matches the manifest is sent
// anew, so what goes live is exactly the commit.
func TestTamperedLiveFileIsNotCarriedIntoTheNextRelease(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 2)
		r := newRepo(t)
		first := f.mustDeploy(t, r, r.write(map[string]string{
			"app.txt": "v1\n", "lib/auth.php": "check password\n", "lib/pay.php": "charge card\n", "static.css": "body{}\n",
		}).commit("v1"))

		tampered := f.roots[1]
		inPlace := filepath.Join(tampered, "current/lib/auth.php")
		fh, err := os.OpenFile(inPlace, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = fh.WriteString("// backdoor: accept any password\n")
		_ = fh.Close()
		replaced := filepath.Join(tampered, "current/lib/pay.php")
		if err := os.Remove(replaced); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(replaced, []byte("charge card, copy to attacker\n"), 0o664); err != nil {
			t.Fatal(err)
		}
		// Same content, but anyone may now write it.
		if err := os.Chmod(filepath.Join(tampered, "current/static.css"), 0o666); err != nil {
			t.Fatal(err)
		}

		res, log, err := f.deploy(t, r, r.write(map[string]string{"app.txt": "v2\n"}).commit("v2"), deploy.ReleaseSpec{})
		if err != nil || res.Outcome != deploy.Succeeded {
			t.Fatalf("outcome %s, err %v\n%s", res.Outcome, err, log)
		}
		for i, root := range f.roots {
			live := filepath.Join(root, "current")
			for p, want := range map[string]string{"app.txt": "v2\n", "lib/auth.php": "check password\n", "lib/pay.php": "charge card\n", "static.css": "body{}\n"} {
				if got := readFile(t, filepath.Join(live, p)); got != want {
					t.Errorf("server %d: live %s = %q, want the commit's %q", i, p, got, want)
				}
			}
			if st, err := os.Stat(filepath.Join(live, "static.css")); err != nil || st.Mode().Perm() != 0o664 {
				t.Errorf("server %d: live static.css mode %v, %v", i, st.Mode(), err)
			}
			sent := res.Servers[i].Sent
			wantSent := []string{"app.txt"}
			if root == tampered {
				wantSent = []string{"app.txt", "lib/auth.php", "lib/pay.php", "static.css"}
			}
			if !slices.Equal(sent, wantSent) {
				t.Errorf("server %d: sent %v, want %v", i, sent, wantSent)
			}
			if res.Servers[i].Base != first.Release {
				t.Errorf("server %d: base %q", i, res.Servers[i].Base)
			}
		}
		if !strings.Contains(log, "verified 4 files") {
			t.Errorf("the log does not say every file was verified:\n%s", log)
		}
		if !strings.Contains(log, "lib/auth.php") || !strings.Contains(log, "no longer match") {
			t.Errorf("the log does not report the changed live files:\n%s", log)
		}
		// The untouched server still hard-links what did not change.
		st1 := snapshot(t, filepath.Join(f.roots[0], "releases", first.Release))
		st2 := snapshot(t, filepath.Join(f.roots[0], "releases", res.Release))
		if st1["static.css"].Inode != st2["static.css"].Inode {
			t.Errorf("an unchanged, untampered file was not hard-linked")
		}
	})
}

// TestRemovedLiveFileIsSentAnewByTheNextDeploy: an intruder removes a
// live file (and a whole directory). The next release, which leaves those
// files unchanged, used to hard-link them and fail the extraction on a
// link to nothing; now the engine sees they are gone under the lock, says
// so, and sends them.
func TestRemovedLiveFileIsSentAnewByTheNextDeploy(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 1)
		r := newRepo(t)
		f.mustDeploy(t, r, r.write(map[string]string{"app.txt": "v1\n", "lib/auth.php": "check password\n", "css/a.css": "a{}\n"}).commit("v1"))
		live := filepath.Join(f.roots[0], "current")
		if err := os.Remove(filepath.Join(live, "lib/auth.php")); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(filepath.Join(live, "css")); err != nil {
			t.Fatal(err)
		}
		res, log, err := f.deploy(t, r, r.write(map[string]string{"app.txt": "v2\n"}).commit("v2"), deploy.ReleaseSpec{})
		if err != nil || res.Outcome != deploy.Succeeded {
			t.Fatalf("outcome %s, err %v\n%s", res.Outcome, err, log)
		}
		if got := readFile(t, filepath.Join(live, "lib/auth.php")); got != "check password\n" {
			t.Errorf("live lib/auth.php = %q", got)
		}
		if got := readFile(t, filepath.Join(live, "css/a.css")); got != "a{}\n" {
			t.Errorf("live css/a.css = %q", got)
		}
		if want := []string{"app.txt", "css/a.css", "lib/auth.php"}; !slices.Equal(res.Servers[0].Sent, want) {
			t.Errorf("sent %v, want %v", res.Servers[0].Sent, want)
		}
		if !strings.Contains(log, "removed on the server") || !strings.Contains(log, "lib/auth.php") {
			t.Errorf("the log does not name the removed files:\n%s", log)
		}
	})
}
