package githubtest

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-github/v60/github"
)

// gitRepo makes a repository with a file, an executable, a symlink, a
// nested directory and a submodule, and returns its directory and head.
func gitRepo(t *testing.T) (string, string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	run("init", "-q", "-b", "main")
	for p, c := range map[string]string{"app.txt": "v1\n", "bin/run": "#!/bin/sh\n", "src/deep/x.go": "package x\n"} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "bin/run"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("app.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	run("add", "-A")
	run("update-index", "--add", "--cacheinfo", "160000,"+sha("sub")+",vendor/sub")
	run("commit", "-q", "-m", "v1")
	return dir, run("rev-parse", "HEAD")
}

func TestGitTreesAnswerLikeGitHub(t *testing.T) {
	dir, head := gitRepo(t)
	gh, inst := newFake(t)
	gh.AddCommit("acme/web", "main", head)
	if err := gh.SetTarballFromGit(ctx(t), "acme/web", head, dir); err != nil {
		t.Fatal(err)
	}
	c := installationClient(t, gh, inst)

	tree, _, err := c.Git.GetTree(ctx(t), "acme", "web", head, true)
	if err != nil {
		t.Fatal(err)
	}
	want, err := exec.Command("git", "-C", dir, "ls-tree", "-r", "-t", "-l", head).Output()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range tree.Entries {
		size := "-"
		if e.Size != nil {
			size = strconv.Itoa(*e.Size)
		}
		got = append(got, e.GetMode()+" "+e.GetType()+" "+e.GetSHA()+" "+size+"\t"+e.GetPath())
	}
	var wantLines []string
	for _, l := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		meta, p, _ := strings.Cut(l, "\t")
		wantLines = append(wantLines, strings.Join(strings.Fields(meta), " ")+"\t"+p)
	}
	if strings.Join(got, "\n") != strings.Join(wantLines, "\n") {
		t.Errorf("recursive tree:\n%s\nwant (git ls-tree):\n%s", strings.Join(got, "\n"), strings.Join(wantLines, "\n"))
	}
	rootTree, _ := exec.Command("git", "-C", dir, "rev-parse", head+"^{tree}").Output()
	if tree.GetSHA() != strings.TrimSpace(string(rootTree)) || tree.GetTruncated() {
		t.Errorf("tree sha %s truncated %v, want git's %s", tree.GetSHA(), tree.GetTruncated(), rootTree)
	}

	// Non-recursive, by tree id: the subtree's direct entries only.
	var src string
	for _, e := range tree.Entries {
		if e.GetPath() == "src" {
			src = e.GetSHA()
		}
	}
	sub, _, err := c.Git.GetTree(ctx(t), "acme", "web", src, false)
	if err != nil || len(sub.Entries) != 1 || sub.Entries[0].GetPath() != "deep" || sub.Entries[0].GetType() != "tree" {
		t.Errorf("subtree %s: %v %v", src, sub, err)
	}

	// Blobs: raw and base64, and the symlink's target is its content.
	for _, e := range tree.Entries {
		if e.GetPath() != "link" {
			continue
		}
		raw, _, err := c.Git.GetBlobRaw(ctx(t), "acme", "web", e.GetSHA())
		if err != nil || string(raw) != "app.txt" {
			t.Errorf("raw blob of the symlink = %q, %v", raw, err)
		}
		b, _, err := c.Git.GetBlob(ctx(t), "acme", "web", e.GetSHA())
		if err != nil || b.GetEncoding() != "base64" || b.GetSize() != 7 {
			t.Errorf("blob = %v, %v", b, err)
		}
	}

	// Unknown tree or blob: 404 as on GitHub.
	for _, call := range []func() (*github.Response, error){
		func() (*github.Response, error) {
			_, r, err := c.Git.GetTree(ctx(t), "acme", "web", sha("nope"), true)
			return r, err
		},
		func() (*github.Response, error) {
			_, r, err := c.Git.GetBlobRaw(ctx(t), "acme", "web", sha("nope"))
			return r, err
		},
	} {
		if resp, err := call(); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown object: %v %v, want 404", resp, err)
		}
	}
}

func TestGitTreesAreTruncatedAtTheLimit(t *testing.T) {
	gh, inst := newFake(t)
	head := gh.BranchHead("acme/web", "main")
	if err := gh.SetTarball("acme/web", head, map[string]string{"a/1": "1", "a/2": "2", "b/3": "3", "c": "c"}); err != nil {
		t.Fatal(err)
	}
	gh.SetTreeLimit(3)
	c := installationClient(t, gh, inst)
	tree, _, err := c.Git.GetTree(ctx(t), "acme", "web", "main", true)
	if err != nil {
		t.Fatal(err)
	}
	if !tree.GetTruncated() || len(tree.Entries) != 3 {
		t.Errorf("truncated %v with %d entries, want true with 3", tree.GetTruncated(), len(tree.Entries))
	}
	gh.SetTreeLimit(0)
	tree, _, err = c.Git.GetTree(ctx(t), "acme", "web", "main", true)
	if err != nil || tree.GetTruncated() || len(tree.Entries) != 6 {
		t.Errorf("without a low limit: truncated %v, %d entries, %v", tree.GetTruncated(), len(tree.Entries), err)
	}
}

// The shaping is a floor: a body can never arrive faster than the link.
func TestNetworkShapingIsAFloor(t *testing.T) {
	gh, inst := newFake(t)
	head := gh.BranchHead("acme/web", "main")
	if err := gh.SetTarball("acme/web", head, map[string]string{"big": strings.Repeat("x", 200<<10)}); err != nil {
		t.Fatal(err)
	}
	c := installationClient(t, gh, inst)
	tree, _, err := c.Git.GetTree(ctx(t), "acme", "web", head, true)
	if err != nil {
		t.Fatal(err)
	}
	gh.SetNetwork(40*time.Millisecond, 1<<20)
	start := time.Now()
	raw, _, err := c.Git.GetBlobRaw(ctx(t), "acme", "web", tree.Entries[0].GetSHA())
	took := time.Since(start)
	if err != nil || len(raw) != 200<<10 {
		t.Fatalf("blob: %d bytes, %v", len(raw), err)
	}
	if took < 40*time.Millisecond+190*time.Millisecond {
		t.Errorf("200 KiB at 1 MiB/s after 40 ms took %v", took)
	}
}
