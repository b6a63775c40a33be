package deploy_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/deploy"
)

// deployTree deploys sha from r through its tree (deploy.GitTree).
func (f *fixture) deployTree(t *testing.T, r *repo, sha string) (deploy.Result, string, error) {
	t.Helper()
	src, err := deploy.GitTree(context.Background(), r.dir, sha)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var log syncBuf
	res, err := f.engine.Deploy(context.Background(), f.target, deploy.ReleaseSpec{SHA: sha}, src, &log)
	return res, log.String(), err
}

func (f *fixture) mustDeployTree(t *testing.T, r *repo, sha string) (deploy.Result, string) {
	t.Helper()
	res, log, err := f.deployTree(t, r, sha)
	if err != nil || res.Outcome != deploy.Succeeded {
		t.Fatalf("deploy %s: outcome %s, err %v\nlog:\n%s", sha, res.Outcome, err, log)
	}
	return res, log
}

// archiveDigest is the manifest digest a deploy of sha from its tarball
// (git archive) gives.
func archiveDigest(t *testing.T, b backend, r *repo, sha string) string {
	t.Helper()
	f := b.start(t, 1)
	return f.mustDeploy(t, r, sha).ManifestDigest
}

func TestTreeSourceFetchesOnlyWhatChanged(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 2)
		r := newRepo(t)
		files := map[string]string{"bin/run*": "#!/bin/sh\necho run\n", "a.txt": "same\n", "b.txt": "same\n"}
		for _, n := range []string{"c", "d", "e", "f", "g", "h", "i", "j", "k", "l"} {
			files["src/"+n+".txt"] = strings.Repeat("content of "+n+"\n", 100)
		}
		r.write(files).symlink("public", "src")
		first, log := f.mustDeployTree(t, r, r.commit("v1"))
		if first.Source.Mode != deploy.SourceTarball || !strings.Contains(first.Source.Reason, "no previous release") {
			t.Errorf("first deploy read %+v, want the tarball for want of a previous release\n%s", first.Source, log)
		}

		// copy.txt is new, with the content of a.txt and b.txt, which every
		// server has at their own paths: it is fetched all the same.
		r.write(map[string]string{"src/c.txt": "changed c\n", "new.txt": "new\n", "b.txt": "same\n", "copy.txt": "same\n"})
		r.remove("src/d.txt")
		sha := r.commit("v2")
		second, log := f.mustDeployTree(t, r, sha)
		if second.Source.Mode != deploy.SourceTree || second.Source.FilesFetched != 3 {
			t.Fatalf("second deploy read %+v, want the tree with 3 files fetched\n%s", second.Source, log)
		}
		if want := archiveDigest(t, b, r, sha); second.ManifestDigest != want {
			t.Errorf("tree manifest %s differs from the tarball's %s", second.ManifestDigest, want)
		}
		for i, root := range f.roots {
			if got := second.Servers[i].Sent; !slices.Equal(got, []string{"copy.txt", "new.txt", "src/c.txt"}) {
				t.Errorf("server %d: sent %v", i, got)
			}
			live := filepath.Join(root, "current")
			if got := readFile(t, filepath.Join(live, "src/c.txt")); got != "changed c\n" {
				t.Errorf("server %d: src/c.txt = %q", i, got)
			}
			if exists(filepath.Join(live, "src/d.txt")) {
				t.Errorf("server %d: a removed file is live", i)
			}
			if st, err := os.Stat(filepath.Join(live, "bin/run")); err != nil || st.Mode().Perm() != 0o775 {
				t.Errorf("server %d: bin/run mode %v, %v", i, st.Mode(), err)
			}
			if l, err := os.Readlink(filepath.Join(live, "public")); err != nil || l != "src" {
				t.Errorf("server %d: public -> %q, %v", i, l, err)
			}
		}

		// Over the limit the tarball is read; the outcome is the same.
		f.target.FetchChangedLimit = 0.01
		r.write(map[string]string{"src/e.txt": strings.Repeat("changed e\n", 50)})
		third, log := f.mustDeployTree(t, r, r.commit("v3"))
		if third.Source.Mode != deploy.SourceTarball || !strings.Contains(third.Source.Reason, "above the 1% limit") {
			t.Errorf("third deploy read %+v, want the tarball above the limit\n%s", third.Source, log)
		}
		if got := third.Servers[0].Sent; !slices.Equal(got, []string{"src/e.txt"}) {
			t.Errorf("third deploy sent %v", got)
		}
	})
}

// TestTreeSourceSendsDriftedFilesAnew: the tree says a file is unchanged,
// so its content is not fetched, but the server's copy was edited after it
// was verified. The new release must not carry the edited file: it is
// fetched from the tree and sent anew, and what goes live is the commit.
func TestTreeSourceSendsDriftedFilesAnew(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 2)
		r := newRepo(t)
		first, _ := f.mustDeployTree(t, r, r.write(map[string]string{"app.txt": "v1\n", "lib/auth.php": "check password\n"}).commit("v1"))
		edited := filepath.Join(f.roots[1], "current/lib/auth.php")
		if err := os.WriteFile(edited, []byte("check password // accept any\n"), 0o664); err != nil {
			t.Fatal(err)
		}

		second, log, err := f.deployTree(t, r, r.write(map[string]string{"app.txt": "v2\n"}).commit("v2"))
		if err != nil || second.Outcome != deploy.Succeeded {
			t.Fatalf("outcome %s, err %v\n%s", second.Outcome, err, log)
		}
		if second.Source.Mode != deploy.SourceTree || second.Source.FilesFetched != 1 {
			t.Fatalf("read %+v, want the tree with only app.txt fetched up front\n%s", second.Source, log)
		}
		for i, root := range f.roots {
			if got := readFile(t, filepath.Join(root, "current/lib/auth.php")); got != "check password\n" {
				t.Errorf("server %d: live lib/auth.php = %q, want the commit's", i, got)
			}
		}
		if got := second.Servers[1].Sent; !slices.Equal(got, []string{"app.txt", "lib/auth.php"}) {
			t.Errorf("drifted server sent %v", got)
		}
		if got := second.Servers[0].Sent; !slices.Equal(got, []string{"app.txt"}) {
			t.Errorf("other server sent %v", got)
		}
		old := snapshot(t, filepath.Join(f.roots[1], "releases", first.Release))
		cur := snapshot(t, filepath.Join(f.roots[1], "releases", second.Release))
		if old["lib/auth.php"].Inode == cur["lib/auth.php"].Inode {
			t.Errorf("the new release links the edited file")
		}
		if !strings.Contains(log, "no longer match") || !strings.Contains(log, "lib/auth.php") {
			t.Errorf("the log does not name the edited file:\n%s", log)
		}
	})
}

func TestTreeSourceFallsBackForArchiveAttributes(t *testing.T) {
	f := startInProcess(t, 1)
	r := newRepo(t)
	f.mustDeployTree(t, r, r.write(map[string]string{"a.txt": "a\n"}).commit("v1"))
	sha := r.write(map[string]string{".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n", "b.txt": "b\n"}).commit("lfs")
	res, log := f.mustDeployTree(t, r, sha)
	if res.Source.Mode != deploy.SourceTarball || !strings.Contains(res.Source.Reason, "filter=lfs") {
		t.Errorf("read %+v, want the tarball because of Git LFS\n%s", res.Source, log)
	}
	if !strings.Contains(log, "reading the whole tarball") {
		t.Errorf("the log does not say why the tarball was read:\n%s", log)
	}
}

func TestTreeSourceMakesSubmodulesEmptyDirectories(t *testing.T) {
	f := startInProcess(t, 1)
	r := newRepo(t)
	f.mustDeployTree(t, r, r.write(map[string]string{"a.txt": strings.Repeat("a\n", 1000)}).commit("v1"))
	r.write(map[string]string{"b.txt": "b\n"}).git("add", "-A")
	r.git("update-index", "--add", "--cacheinfo", "160000,0123456789abcdef0123456789abcdef01234567,vendor/lib")
	r.git("commit", "-q", "-m", "submodule") // not commit(): git add -A would drop the gitlink
	sha := r.git("rev-parse", "HEAD")
	res, log := f.mustDeployTree(t, r, sha)
	if res.Source.Mode != deploy.SourceTree {
		t.Fatalf("read %+v\n%s", res.Source, log)
	}
	if want := archiveDigest(t, backends[1], r, sha); res.ManifestDigest != want {
		t.Errorf("tree manifest %s differs from the tarball's %s", res.ManifestDigest, want)
	}
	if st, err := os.Stat(filepath.Join(f.roots[0], "current/vendor/lib")); err != nil || !st.IsDir() {
		t.Errorf("submodule is not an empty directory: %v", err)
	}
}

// TestTreeSourceNeverTakesHashesFromTheServer: an operator with file access
// edits a live file and rewrites its release's manifest to match the
// edit. A tree deploy must not take the server's word for what the
// commit's unchanged file holds: the engine's own record of the blob
// disagrees with the manifest, so the file is fetched and sent, and the
// new manifest records the commit's content.
func TestTreeSourceNeverTakesHashesFromTheServer(t *testing.T) {
	f := startOpenSSH(t, 1)
	r := newRepo(t)
	first, _ := f.mustDeployTree(t, r, r.write(map[string]string{"app.txt": "v1\n", "lib/auth.php": "check password\n"}).commit("v1"))
	root := f.roots[0]
	evil := "accept any password\n"
	if err := os.WriteFile(filepath.Join(root, "current/lib/auth.php"), []byte(evil), 0o664); err != nil {
		t.Fatal(err)
	}
	manifestFile := filepath.Join(root, ".tollgate", first.Release, "manifest")
	m, err := deploy.ParseManifest([]byte(readFile(t, manifestFile)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		if m[i].Path == "lib/auth.php" {
			sum := sha256.Sum256([]byte(evil))
			m[i].SHA256, m[i].Size = hex.EncodeToString(sum[:]), int64(len(evil))
		}
	}
	if err := os.WriteFile(manifestFile, m.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}

	second, log := f.mustDeployTree(t, r, r.write(map[string]string{"app.txt": "v2\n"}).commit("v2"))
	if got := readFile(t, filepath.Join(root, "current/lib/auth.php")); got != "check password\n" {
		t.Errorf("live lib/auth.php = %q, want the commit's\n%s", got, log)
	}
	want := sha256.Sum256([]byte("check password\n"))
	for _, e := range second.Manifest {
		if e.Path == "lib/auth.php" && e.SHA256 != hex.EncodeToString(want[:]) {
			t.Errorf("the new manifest records %s for lib/auth.php, not the commit's content", e.SHA256)
		}
	}
	if got := second.Servers[0].Sent; !slices.Equal(got, []string{"app.txt", "lib/auth.php"}) {
		t.Errorf("sent %v", got)
	}
}
