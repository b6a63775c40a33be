package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

// TestServeFetchesOnlyTheChangedFileFromGitHub is issue 16's wiring through
// the real server: the first merge deploys from the commit's tarball (no
// previous release), the second lists the commit's tree and fetches the one
// changed blob; the tarball is not downloaded again, the release holds
// every file, and the engine's content index lives beside the database.
func TestServeFetchesOnlyTheChangedFileFromGitHub(t *testing.T) {
	e := newE2E(t, e2eOptions{})
	files := map[string]string{
		"index.html":     "<h1>shop v2</h1>\n",
		"bin/health":     "#!/bin/sh\ngrep -q v2 index.html\n",
		"assets/big.css": strings.Repeat("body { color: #123456 }\n", 4<<10),
	}
	if err := e.gh.SetTarball(e2eRepo, sha('c'), files); err != nil {
		t.Fatal(err)
	}
	e.start(t)
	if code := e.sendMerge(t, githubtest.NewDeliveryID()); code/100 != 2 {
		t.Fatalf("merge webhook answered %d", code)
	}
	first := e.waitAudit(t, "deploy.finished", 1)
	tarballs := len(e.gh.CallsMatching("GET", "/_codeload/"))
	if tarballs != 1 || first[0]["files_sent"] != float64(3) {
		t.Fatalf("first deploy: %d tarball downloads, deploy.finished %v\n%s", tarballs, first[0], e.stderr.String())
	}

	blobsPath := "/repos/" + e2eRepo + "/git/blobs/"
	blobs := len(e.gh.CallsMatching("GET", blobsPath))
	files["index.html"] = "<h1>shop v2.1</h1>\n"
	e.gh.AddPullRequest(e2eRepo, githubtest.PullRequest{Number: 5, Title: "Retitle", Author: "bob", HeadSHA: prCommit(5, 1), Base: "main"})
	e.gh.MergePullRequest(e2eRepo, 5, mergeCommit(5), "alice")
	if err := e.gh.SetTarball(e2eRepo, mergeCommit(5), files); err != nil {
		t.Fatal(err)
	}
	p, err := e.gh.Payloads().PullRequestMerged(e2eRepo, 5, mergeCommit(5), "alice", "main")
	e.deliver(t, p, err)
	second := e.waitAudit(t, "deploy.finished", 2)[1]
	if got := len(e.gh.CallsMatching("GET", "/_codeload/")); got != tarballs {
		t.Errorf("the second deploy downloaded the tarball (%d downloads, want %d)", got, tarballs)
	}
	if got := len(e.gh.CallsMatching("GET", blobsPath)) - blobs; got != 1 {
		t.Errorf("the second deploy fetched %d blobs, want index.html's only", got)
	}
	if second["files_sent"] != float64(1) || second["result"] != "succeeded" {
		t.Errorf("second deploy.finished %v\n%s", second, e.stderr.String())
	}
	for path, want := range files {
		if got, err := os.ReadFile(filepath.Join(e.root, "current", path)); err != nil || string(got) != want {
			t.Errorf("%s on the server after the second deploy: %.40q, %v", path, got, err)
		}
	}
	if !strings.HasSuffix(e.current(t), "-"+mergeCommit(5)[:7]) {
		t.Errorf("current release %q, want the merge of #5", e.current(t))
	}
	if fi, err := os.Stat(filepath.Join(e.dir, "deploy-content-index")); err != nil || fi.Size() == 0 {
		t.Errorf("content index beside the database: %v", err)
	}
	if code := e.stop(t); code != exitOK {
		t.Fatalf("serve exit code %d\n%s", code, e.stderr.String())
	}
}
