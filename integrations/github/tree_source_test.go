package github

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy"
	"github.com/tollgate-dev/tollgate/deploy/sshdtest"
)

// treeWorld is a git repository served by the fake GitHub and two real
// sshd servers to deploy it to.
type treeWorld struct {
	*outWorld
	dir    string
	engine *deploy.Engine
	target deploy.Target
	roots  []string
}

func newTreeWorld(t *testing.T) *treeWorld {
	t.Helper()
	w := &treeWorld{outWorld: newOutWorld(t), dir: t.TempDir(),
		engine: &deploy.Engine{StageDir: t.TempDir(), ContentIndexFile: filepath.Join(t.TempDir(), "content-index")}}
	w.git("init", "-q", "-b", "main")
	key := sshdtest.NewKey(t)
	servers := sshdtest.StartN(t, 2, key.PublicKey())
	w.target = deploy.Target{Environment: "staging", Signer: key, KnownHostsFile: filepath.Join(t.TempDir(), "known_hosts"),
		CommandTimeout: 2 * time.Minute}
	sshdtest.WriteKnownHosts(t, w.target.KnownHostsFile, servers...)
	for _, s := range servers {
		root := filepath.Join(t.TempDir(), "app")
		w.roots = append(w.roots, root)
		w.target.Servers = append(w.target.Servers, deploy.Server{Host: s.Host, Port: s.Port, User: s.User, Path: root})
	}
	return w
}

func (w *treeWorld) git(args ...string) string {
	cmd := exec.Command("git", append([]string{"-C", w.dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		panic("git " + strings.Join(args, " ") + ": " + err.Error() + "\n" + string(out))
	}
	return strings.TrimSpace(string(out))
}

// commit writes files, commits, and serves the commit on the fake GitHub.
func (w *treeWorld) commit(t *testing.T, files map[string]string) string {
	t.Helper()
	for p, c := range files {
		if err := os.MkdirAll(filepath.Join(w.dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(w.dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	w.git("add", "-A")
	w.git("commit", "-q", "-m", "change")
	sha := w.git("rev-parse", "HEAD")
	w.gh.AddCommit("acme/web", "main", sha)
	if err := w.gh.SetTarballFromGit(outCtx(t), "acme/web", sha, w.dir); err != nil {
		t.Fatal(err)
	}
	return sha
}

// treeDeploy is what one deploy through the tree source did.
type treeDeploy struct {
	res             deploy.Result
	log             string
	tarballs, blobs int // tarball downloads and blob fetches it made
}

// deploy deploys sha through the GitHub tree source.
func (w *treeWorld) deploy(t *testing.T, sha string) (treeDeploy, error) {
	t.Helper()
	tarballs, blobs := len(w.gh.CallsMatching("GET", "/_codeload/")), len(w.gh.CallsMatching("GET", "/repos/acme/web/git/blobs/"))
	src := w.app.TreeSource(outCtx(t), "acme/web", sha)
	defer src.Close()
	var log strings.Builder
	res, err := w.engine.Deploy(context.Background(), w.target, deploy.ReleaseSpec{SHA: sha}, src, &log)
	return treeDeploy{res, log.String(), len(w.gh.CallsMatching("GET", "/_codeload/")) - tarballs,
		len(w.gh.CallsMatching("GET", "/repos/acme/web/git/blobs/")) - blobs}, err
}

func bigFiles() map[string]string {
	files := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		files["lib/"+n+".php"] = strings.Repeat("<?php // "+n+"\n", 200)
	}
	return files
}

func TestTreeSourceDeploysOnlyChangedBlobsFromGitHub(t *testing.T) {
	w := newTreeWorld(t)
	files := bigFiles()
	files["index.php"] = "<?php echo 1;\n"
	first, err := w.deploy(t, w.commit(t, files))
	if err != nil || first.res.Source.Mode != deploy.SourceTarball || first.tarballs != 1 {
		t.Fatalf("first deploy: %v, source %+v, %d tarballs\n%s", err, first.res.Source, first.tarballs, first.log)
	}

	// A truncated tree is listed subtree by subtree.
	w.gh.SetTreeLimit(10) // the whole tree is 11 entries, lib/ 9
	sha := w.commit(t, map[string]string{"index.php": "<?php echo 2;\n", "lib/new.php": "<?php\n"})
	d, err := w.deploy(t, sha)
	second := d.res
	if err != nil || second.Source.Mode != deploy.SourceTree || d.tarballs != 0 {
		t.Fatalf("second deploy: %v, source %+v, %d tarballs\n%s", err, second.Source, d.tarballs, d.log)
	}
	if d.blobs != 2 || second.Source.FilesFetched != 2 {
		t.Errorf("fetched %d blobs (%+v), want the 2 changed", d.blobs, second.Source)
	}
	for i, root := range w.roots {
		if got, _ := os.ReadFile(filepath.Join(root, "current/index.php")); string(got) != "<?php echo 2;\n" {
			t.Errorf("server %d: index.php = %q", i, got)
		}
		if got := second.Servers[i].Sent; !slices.Equal(got, []string{"index.php", "lib/new.php"}) {
			t.Errorf("server %d: sent %v", i, got)
		}
	}
	// The same commit from its tarball gives the same manifest.
	w.gh.SetTreeLimit(0)
	m, err := tarballManifest(t, w, sha)
	if err != nil {
		t.Fatal(err)
	}
	if second.ManifestDigest != m.Digest() {
		t.Errorf("tree manifest %s, tarball manifest %s", second.ManifestDigest, m.Digest())
	}
}

// tarballManifest deploys sha from its tarball alone to a third directory
// of the first server and returns the manifest.
func tarballManifest(t *testing.T, w *treeWorld, sha string) (deploy.Manifest, error) {
	t.Helper()
	src := w.app.TreeSource(outCtx(t), "acme/web", sha)
	defer src.Close()
	target := w.target
	target.Servers = []deploy.Server{target.Servers[0]}
	target.Servers[0].Path = filepath.Join(t.TempDir(), "other")
	target.FetchChangedLimit = -1 // always the tarball
	res, err := (&deploy.Engine{StageDir: t.TempDir()}).Deploy(context.Background(), target, deploy.ReleaseSpec{SHA: sha}, src, nil)
	return res.Manifest, err
}

// TestTreeSourceSendsDriftedFileAnew is issue 16's acceptance test: the tree
// says lib/a.php is unchanged, so it is not downloaded, but the server's
// copy was edited. The deploy fetches that blob after all and sends it; the
// new release never keeps a link to the edited file.
func TestTreeSourceSendsDriftedFileAnew(t *testing.T) {
	w := newTreeWorld(t)
	d1, err := w.deploy(t, w.commit(t, bigFiles()))
	if err != nil {
		t.Fatalf("%v\n%s", err, d1.log)
	}
	first := d1.res
	edited := filepath.Join(w.roots[0], "current/lib/a.php")
	if err := os.WriteFile(edited, []byte("<?php system($_GET['c']);\n"), 0o664); err != nil {
		t.Fatal(err)
	}
	d2, err := w.deploy(t, w.commit(t, map[string]string{"lib/b.php": "<?php // b2\n"}))
	second := d2.res
	if err != nil || second.Source.Mode != deploy.SourceTree || d2.tarballs != 0 {
		t.Fatalf("%v, source %+v, %d tarballs\n%s", err, second.Source, d2.tarballs, d2.log)
	}
	if d2.blobs != 2 {
		t.Errorf("fetched %d blobs, want lib/b.php and then the drifted lib/a.php", d2.blobs)
	}
	want := strings.Repeat("<?php // a\n", 200)
	for i, root := range w.roots {
		if got, _ := os.ReadFile(filepath.Join(root, "current/lib/a.php")); string(got) != want {
			t.Errorf("server %d: live lib/a.php = %q", i, got)
		}
	}
	if got := second.Servers[0].Sent; !slices.Equal(got, []string{"lib/a.php", "lib/b.php"}) {
		t.Errorf("drifted server sent %v", got)
	}
	oldInfo, _ := os.Stat(filepath.Join(w.roots[0], "releases", first.Release, "lib/a.php"))
	newInfo, _ := os.Stat(filepath.Join(w.roots[0], "releases", second.Release, "lib/a.php"))
	if oldInfo == nil || newInfo == nil || os.SameFile(oldInfo, newInfo) {
		t.Errorf("the new release links the edited file")
	}
}

func TestTreeSourceReadsTheTarballForGitLFS(t *testing.T) {
	w := newTreeWorld(t)
	if d, err := w.deploy(t, w.commit(t, bigFiles())); err != nil {
		t.Fatalf("%v\n%s", err, d.log)
	}
	d, err := w.deploy(t, w.commit(t, map[string]string{"assets/.gitattributes": "*.psd filter=lfs diff=lfs merge=lfs -text\n"}))
	if err != nil || d.res.Source.Mode != deploy.SourceTarball || d.tarballs != 1 {
		t.Fatalf("%v, source %+v, %d tarballs\n%s", err, d.res.Source, d.tarballs, d.log)
	}
	if !strings.Contains(d.res.Source.Reason, "assets/.gitattributes sets filter=lfs") || !strings.Contains(d.log, "reading the whole tarball") {
		t.Errorf("reason %q, log:\n%s", d.res.Source.Reason, d.log)
	}
}

func TestTreeSourceBlobFailureFailsTheDeployClearly(t *testing.T) {
	w := newTreeWorld(t)
	d1, err := w.deploy(t, w.commit(t, bigFiles()))
	if err != nil {
		t.Fatalf("%v\n%s", err, d1.log)
	}
	first := d1.res
	w.gh.FailNext("GET", "/repos/acme/web/git/blobs/*", 404, 10)
	d, err := w.deploy(t, w.commit(t, map[string]string{"lib/c.php": "<?php // c2\n"}))
	if err == nil || d.res.Outcome != deploy.Failed || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "blob") {
		t.Fatalf("outcome %s, err %v\n%s", d.res.Outcome, err, d.log)
	}
	for i, root := range w.roots {
		if cur, _ := os.Readlink(filepath.Join(root, "current")); cur != "releases/"+first.Release {
			t.Errorf("server %d: current -> %q", i, cur)
		}
	}
}
