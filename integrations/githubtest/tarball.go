package githubtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"time"
)

// tarballPrefix is the single top-level directory of GitHub's tarballs.
func tarballPrefix(rp *repo, sha string) string {
	return rp.owner + "-" + rp.name + "-" + short(sha) + "/"
}

// SetTarball sets what GET /repos/{o}/{r}/tarball/{sha} downloads: files
// (path → content) under "owner-repo-sha7/", after a pax global header whose
// comment is the SHA, as git archive writes it. Files whose content starts
// with "#!" get mode 0775 (git's 100755), others 0664 (100644). The git data
// API (git/trees, git/blobs) serves the same commit's tree.
func (s *Server) SetTarball(repoName, sha string, files map[string]string) error {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	s.mu.Lock()
	rp := s.mustRepo(repoName)
	prefix := tarballPrefix(rp, sha)
	at := s.now().UTC().Truncate(time.Second)
	s.mu.Unlock()
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": sha}, Format: tar.FormatPAX}); err != nil {
		return fmt.Errorf("tarball of %s@%s: %w", repoName, sha, err)
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix, Mode: 0o775, ModTime: at}); err != nil {
		return fmt.Errorf("tarball of %s@%s: %w", repoName, sha, err)
	}
	dirs := map[string]bool{}
	for _, path := range sortedKeys(files) {
		for i := strings.Index(path, "/"); i >= 0; i = next(path, i) {
			if d := path[:i+1]; !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix + d, Mode: 0o775, ModTime: at}); err != nil {
					return fmt.Errorf("tarball of %s@%s: dir %s: %w", repoName, sha, d, err)
				}
			}
		}
		content := files[path]
		mode := int64(0o664)
		if strings.HasPrefix(content, "#!") {
			mode = 0o775
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: prefix + path, Mode: mode, Size: int64(len(content)), ModTime: at}); err != nil {
			return fmt.Errorf("tarball of %s@%s: file %s: %w", repoName, sha, path, err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			return fmt.Errorf("tarball of %s@%s: file %s: %w", repoName, sha, path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("tarball of %s@%s: %w", repoName, sha, err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("tarball of %s@%s: %w", repoName, sha, err)
	}
	s.setTarball(repoName, sha, buf.Bytes(), filesFromMap(files))
	return nil
}

// next finds the next "/" in path after index i, or -1.
func next(path string, i int) int {
	j := strings.Index(path[i+1:], "/")
	if j < 0 {
		return -1
	}
	return i + 1 + j
}

// SetTarballFromGit serves `git archive` of sha from the git repository at
// gitDir as the tarball of sha (the commit must exist there), and its tree
// (blobs, symlinks, submodules) through the git data API.
func (s *Server) SetTarballFromGit(ctx context.Context, repoName, sha, gitDir string) error {
	s.mu.Lock()
	prefix := tarballPrefix(s.mustRepo(repoName), sha)
	s.mu.Unlock()
	cmd := exec.CommandContext(ctx, "git", "-C", gitDir, "archive", "--format=tar.gz", "--prefix="+prefix, sha)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("git archive %s in %s: %w: %s", sha, gitDir, err, strings.TrimSpace(stderr.String()))
	}
	files, err := filesFromGit(ctx, gitDir, sha)
	if err != nil {
		return err
	}
	s.setTarball(repoName, sha, out, files)
	return nil
}

// setTarball stores sha's tarball and its git objects, adding the commit
// when it is new; the commit's tree (what GET commits/{sha} reports as
// commit.tree.sha) is the real git tree id of files, so equal trees have
// equal ids, as on GitHub.
func (s *Server) setTarball(repoName, sha string, b []byte, files map[string]treeFile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(repoName)
	rp.tarballs[sha] = b
	tree := rp.git.addTree(files)
	rp.git.commits[sha] = tree
	if _, ok := rp.commits[sha]; !ok {
		rp.commits[sha] = &commit{sha: sha, message: "Commit " + short(sha), author: "octocat", at: s.now().UTC()}
	}
	rp.commits[sha].tree = tree
}

// handleTarballLink serves GET /repos/{o}/{r}/tarball/{ref}: 302 to a
// short-lived download URL on the fake's codeload path.
func (s *Server) handleTarballLink(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	ref := r.PathValue("ref")
	if ref == "" {
		ref = rp.defaultBranch
	}
	sha, ok := rp.resolve(ref)
	if !ok {
		writeNotFound(w)
		return
	}
	if _, ok := rp.tarballs[sha]; !ok {
		writeNotFound(w)
		return
	}
	tok := newToken("")
	s.state.downloads[tok] = download{repo: rp.owner + "/" + rp.name, sha: sha, expires: s.now().Add(5 * time.Minute)}
	loc := fmt.Sprintf("%s/_codeload/%s/%s/legacy.tar.gz/%s?token=%s", s.ts.URL, url.PathEscape(rp.owner), url.PathEscape(rp.name), sha, tok)
	w.Header().Set("Location", loc)
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	w.WriteHeader(http.StatusFound)
}

// handleTarballDownload serves the codeload URL: the token in the query is
// the only credential, as on codeload.
func (s *Server) handleTarballDownload(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	d, ok := s.state.downloads[r.URL.Query().Get("token")]
	var b []byte
	var name string
	if ok {
		rp := s.state.repo(d.repo)
		b, name = rp.tarballs[d.sha], strings.TrimSuffix(tarballPrefix(rp, d.sha), "/")
	}
	valid := ok && s.now().Before(d.expires)
	s.mu.Unlock()
	// The body is written without the lock: it may be large and shaped.
	if !valid || !strings.EqualFold(d.repo, r.PathValue("owner")+"/"+r.PathValue("repo")) || d.sha != r.PathValue("sha") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("404: Not Found"))
		return
	}
	w.Header().Set("Content-Type", "application/x-gzip")
	w.Header().Set("Content-Disposition", "attachment; filename="+name+".tar.gz")
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	_, _ = w.Write(b)
}
