package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/deploy"
)

func TestFirstDeployCreatesLayoutAndGoesLive(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 2)
		r := newRepo(t)
		r.write(map[string]string{
			"index.html":         "<h1>v1</h1>\n",
			"bin/start*":         "#!/bin/sh\necho start\n",
			"assets/css/app.css": "body{}\n",
		}).symlink("public", "assets")
		sha := r.commit("v1")

		res := f.mustDeploy(t, r, sha)

		if res.Release != "20250301120001-"+sha[:7] {
			t.Errorf("release name = %q", res.Release)
		}
		if len(res.Manifest) != 7 || res.ManifestDigest != res.Manifest.Digest() {
			t.Errorf("manifest = %v (digest %s)", res.Manifest, res.ManifestDigest)
		}
		for i, root := range f.roots {
			if got := current(t, root); got != res.Release {
				t.Errorf("server %d: current = %q, want %q", i, got, res.Release)
			}
			live := filepath.Join(root, "current")
			if got := readFile(t, filepath.Join(live, "index.html")); got != "<h1>v1</h1>\n" {
				t.Errorf("server %d: index.html = %q", i, got)
			}
			if st, err := os.Stat(filepath.Join(live, "bin/start")); err != nil || st.Mode().Perm()&0o111 == 0 {
				t.Errorf("server %d: bin/start mode %v, %v", i, st.Mode(), err)
			}
			if link, err := os.Readlink(filepath.Join(live, "public")); err != nil || link != "assets" {
				t.Errorf("server %d: public -> %q, %v", i, link, err)
			}
			if !exists(filepath.Join(root, ".tollgate", res.Release, "ok")) {
				t.Errorf("server %d: no success marker", i)
			}
			for _, d := range []string{"shared", "releases"} {
				if !exists(filepath.Join(root, d)) {
					t.Errorf("server %d: %s missing", i, d)
				}
			}
			sr := res.Servers[i]
			if sr.FilesSent != 3 || sr.BytesSent != int64(len("<h1>v1</h1>\n")+len("#!/bin/sh\necho start\n")+len("body{}\n")) || sr.Base != "" {
				t.Errorf("server %d: sent %d files, %d bytes, base %q", i, sr.FilesSent, sr.BytesSent, sr.Base)
			}
			if want := []string{"assets/css/app.css", "bin/start", "index.html"}; !slices.Equal(sr.Sent, want) {
				t.Errorf("server %d: sent %v, want %v", i, sr.Sent, want)
			}
		}
	})
}

func TestSecondDeploySendsOnlyChangedFiles(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 2)
		r := newRepo(t)
		files := map[string]string{}
		for _, n := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
			files["src/"+n+".txt"] = "content of " + n + "\n"
		}
		files["run.sh"] = "echo run\n"
		r.write(files)
		first := f.mustDeploy(t, r, r.commit("v1"))
		before := make([]map[string]fileState, len(f.roots))
		for i, root := range f.roots {
			before[i] = snapshot(t, filepath.Join(root, "releases", first.Release))
		}

		r.write(map[string]string{"src/a.txt": "changed a, longer\n", "src/b.txt": "changed b\n", "src/new.txt": "new\n", "run.sh*": "echo run\n"})
		r.remove("src/h.txt")
		second := f.mustDeploy(t, r, r.commit("v2"))

		wantSent := []string{"run.sh", "src/a.txt", "src/b.txt", "src/new.txt"}
		wantBytes := int64(len("echo run\n") + len("changed a, longer\n") + len("changed b\n") + len("new\n"))
		for i, root := range f.roots {
			sr := second.Servers[i]
			if !slices.Equal(sr.Sent, wantSent) || sr.FilesSent != 4 || sr.BytesSent != wantBytes {
				t.Errorf("server %d: sent %v (%d files, %d bytes), want %v (%d bytes)", i, sr.Sent, sr.FilesSent, sr.BytesSent, wantSent, wantBytes)
			}
			if sr.Base != first.Release || sr.Previous != first.Release {
				t.Errorf("server %d: base %q previous %q, want %q", i, sr.Base, sr.Previous, first.Release)
			}
			after := snapshot(t, filepath.Join(root, "releases", first.Release))
			if !mapsEqual(before[i], after) {
				t.Errorf("server %d: previous release changed:\nbefore %v\nafter  %v", i, before[i], after)
			}
			newRel := snapshot(t, filepath.Join(root, "releases", second.Release))
			if _, ok := newRel["src/h.txt"]; ok {
				t.Errorf("server %d: deleted file still in new release", i)
			}
			for _, p := range []string{"src/c.txt", "src/d.txt", "src/g.txt"} {
				if newRel[p].Inode != after[p].Inode {
					t.Errorf("server %d: unchanged %s not hard-linked", i, p)
				}
			}
			for _, p := range []string{"src/a.txt", "src/b.txt", "run.sh"} {
				if newRel[p].Inode == after[p].Inode {
					t.Errorf("server %d: changed %s shares the previous inode", i, p)
				}
			}
			if newRel["run.sh"].Mode.Perm()&0o100 == 0 || after["run.sh"].Mode.Perm()&0o100 != 0 {
				t.Errorf("server %d: run.sh modes new %v old %v", i, newRel["run.sh"].Mode, after["run.sh"].Mode)
			}
			if got := readFile(t, filepath.Join(root, "current/src/a.txt")); got != "changed a, longer\n" {
				t.Errorf("server %d: current a.txt = %q", i, got)
			}
		}
	})
}

func mapsEqual(a, b map[string]fileState) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || v.Mode != w.Mode || v.Inode != w.Inode || v.Sum != w.Sum || v.Link != w.Link || !v.MTime.Equal(w.MTime) {
			return false
		}
	}
	return true
}

func TestGitArchiveRefusesBadCommits(t *testing.T) {
	r := newRepo(t)
	r.write(map[string]string{"a": "1"}).commit("v1")
	if _, err := deploy.GitArchive(context.Background(), r.dir, "--output=/tmp/x"); err == nil {
		t.Errorf("an option was accepted as a commit")
	}
	src, err := deploy.GitArchive(context.Background(), r.dir, "0123456789abcdef0123456789abcdef01234567")
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f := newFixture(t, newSigner(t))
	f.addServer(t, "127.0.0.1", 1, "deployer")
	res, err := f.engine.Deploy(context.Background(), f.target, deploy.ReleaseSpec{SHA: "0123456789abcdef0123456789abcdef01234567"}, src, nil)
	if err == nil || res.Outcome != deploy.Failed || !strings.Contains(err.Error(), "git archive") {
		t.Errorf("unknown commit: outcome %s, err %v", res.Outcome, err)
	}
}
