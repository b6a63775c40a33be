package githubtest

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-github/v60/github"
)

// extract downloads url and returns the tarball's regular files and the
// pax global header's comment.
func extract(t *testing.T, url string) (map[string]string, map[string]int64, string) {
	t.Helper()
	resp, err := http.Get(url) // codeload links carry their own token
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("download status %d", resp.StatusCode)
	}
	gz, err := gzip.NewReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	files, modes, comment := map[string]string{}, map[string]int64{}, ""
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeXGlobalHeader:
			comment = h.PAXRecords["comment"]
		case tar.TypeReg:
			b, _ := io.ReadAll(tr)
			files[h.Name], modes[h.Name] = string(b), h.Mode
		}
	}
	return files, modes, comment
}

func TestTarballDownloadAndExtract(t *testing.T) {
	gh, inst := newFake(t)
	head := gh.BranchHead("acme/web", "main")
	if err := gh.SetTarball("acme/web", head, map[string]string{
		"index.html": "<h1>hi</h1>\n", "bin/migrate": "#!/bin/sh\necho ok\n",
	}); err != nil {
		t.Fatal(err)
	}
	c := installationClient(t, gh, inst)
	link, _, err := c.Repositories.GetArchiveLink(ctx(t), "acme", "web", github.Tarball, &github.RepositoryContentGetOptions{Ref: "main"}, 0)
	if err != nil {
		t.Fatalf("archive link: %v", err)
	}
	files, modes, comment := extract(t, link.String())
	top := "acme-web-" + head[:7] + "/"
	if files[top+"index.html"] != "<h1>hi</h1>\n" || files[top+"bin/migrate"] != "#!/bin/sh\necho ok\n" || len(files) != 2 {
		t.Errorf("files = %v", files)
	}
	if modes[top+"bin/migrate"]&0o111 == 0 || modes[top+"index.html"]&0o111 != 0 {
		t.Errorf("modes = %v", modes)
	}
	if comment != head {
		t.Errorf("pax comment = %q, want the SHA", comment)
	}
	if _, resp, _ := c.Repositories.GetArchiveLink(ctx(t), "acme", "web", github.Tarball, &github.RepositoryContentGetOptions{Ref: "nope"}, 0); resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("tarball of unknown ref: %v, want 404", resp)
	}
	bad := strings.Replace(link.String(), "token=", "token=x", 1)
	if resp, err := http.Get(bad); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("download with a wrong token: %v %v, want 404", resp, err)
	}
}

func TestTarballFromGitArchive(t *testing.T) {
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
	if err := os.WriteFile(filepath.Join(dir, "app.txt"), []byte("v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("add", ".")
	run("commit", "-q", "-m", "v1")
	head := run("rev-parse", "HEAD")

	gh, inst := newFake(t)
	gh.AddCommit("acme/web", "main", head)
	if err := gh.SetTarballFromGit(ctx(t), "acme/web", head, dir); err != nil {
		t.Fatal(err)
	}
	link, _, err := installationClient(t, gh, inst).Repositories.GetArchiveLink(ctx(t), "acme", "web", github.Tarball, &github.RepositoryContentGetOptions{Ref: head}, 0)
	if err != nil {
		t.Fatal(err)
	}
	files, _, comment := extract(t, link.String())
	if files["acme-web-"+head[:7]+"/app.txt"] != "v1\n" || comment != head {
		t.Errorf("files = %v comment %q", files, comment)
	}
}
