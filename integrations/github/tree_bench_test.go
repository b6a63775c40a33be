package github

import (
	"context"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy"
	"github.com/tollgate-dev/tollgate/deploy/benchtree"
	"github.com/tollgate-dev/tollgate/deploy/sshdtest"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

// The release of BENCHMARKS.md ("SSH deploy"): 20,000 files, 200 MiB,
// log-uniform sizes, 100 files per directory; 200 files (1%) change per
// release.
const (
	benchFiles   = 20000
	benchBytes   = 200 << 20
	benchChanged = 200
)

// BenchmarkTreeVsTarballFromGitHub deploys a release with 1% of its files
// changed from the fake GitHub answering with 40 ms latency and 25 MB/s,
// once through the tree source (only the changed blobs) and once from the
// commit's tarball, interleaved in each round, to the same sshd.
func BenchmarkTreeVsTarballFromGitHub(b *testing.B) {
	gh := githubtest.New()
	b.Cleanup(gh.Close)
	gh.AddInstallation("acme")
	gh.AddRepo("acme/web")
	app, err := NewApp(context.Background(), AppConfig{APIURL: gh.APIURL(), AppID: gh.AppID(), PrivateKey: gh.AppPrivateKeyPEM()})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=b", "-c", "user.email=b@example.com",
			"-c", "core.compression=0", "-c", "core.looseCompression=0", "-c", "commit.gpgsign=false"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			b.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	files := benchTree(b, dir)
	commit := func(msg string) string {
		git("add", "-A")
		git("commit", "-q", "-m", msg)
		sha := git("rev-parse", "HEAD")
		gh.AddCommit("acme/web", "main", sha)
		if err := gh.SetTarballFromGit(context.Background(), "acme/web", sha, dir); err != nil {
			b.Fatal(err)
		}
		return sha
	}

	key := sshdtest.NewKey(b)
	srv := sshdtest.Start(b, key.PublicKey())
	target := func(root string, limit float64) deploy.Target {
		t := deploy.Target{Environment: "bench", Signer: key, KnownHostsFile: filepath.Join(dir, "..", "known_hosts"),
			Ciphers: []string{"aes128-gcm@openssh.com"}, KeepReleases: 1000, CommandTimeout: 10 * time.Minute, FetchChangedLimit: limit,
			Servers: []deploy.Server{{Host: srv.Host, Port: srv.Port, User: srv.User, Path: root}}}
		return t
	}
	sshdtest.WriteKnownHosts(b, filepath.Join(dir, "..", "known_hosts"), srv)
	base := b.TempDir()
	treeTarget, tarTarget := target(base+"/tree", 0), target(base+"/tarball", -1)
	treeEngine := &deploy.Engine{StageDir: b.TempDir(), ContentIndexFile: filepath.Join(b.TempDir(), "index")}
	tarEngine := &deploy.Engine{StageDir: b.TempDir()}
	deployWith := func(e *deploy.Engine, t deploy.Target, sha, name string) deploy.Result {
		src := app.TreeSource(context.Background(), "acme/web", sha)
		defer src.Close()
		res, err := e.Deploy(context.Background(), t, deploy.ReleaseSpec{SHA: sha, Name: name}, src, nil)
		if err != nil {
			b.Fatalf("deploy %s: %v", name, err)
		}
		return res
	}
	sha := commit("r0")
	deployWith(treeEngine, treeTarget, sha, "r0") // no previous release: the tarball, unshaped
	deployWith(tarEngine, tarTarget, sha, "r0")

	gh.SetNetwork(40*time.Millisecond, 25_000_000)
	defer gh.SetNetwork(0, 0)
	rng := mrand.New(mrand.NewPCG(3, 4))
	var tTree, tTar time.Duration
	var fetched, treeUpload, tarUpload float64
	for i := 0; i < b.N; i++ {
		for j := 0; j < benchChanged; j++ {
			p := filepath.Join(dir, files[rng.IntN(len(files))])
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = rand.Read(data)
			if err := os.WriteFile(p, data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		name := fmt.Sprintf("r%d", i+1)
		sha := commit(name)
		var res deploy.Result
		tTree += timedBench(func() { res = deployWith(treeEngine, treeTarget, sha, name) })
		if res.Source.Mode != deploy.SourceTree {
			b.Fatalf("tree deploy read %+v", res.Source)
		}
		fetched += float64(res.Source.FilesFetched)
		treeUpload += uploadSeconds(res)
		tTar += timedBench(func() { res = deployWith(tarEngine, tarTarget, sha, name) })
		tarUpload += uploadSeconds(res)
	}
	n := float64(b.N)
	b.ReportMetric(tTree.Seconds()/n, "tree-s")
	b.ReportMetric(tTar.Seconds()/n, "tarball-s")
	b.ReportMetric(tTree.Seconds()/tTar.Seconds(), "tree/tarball")
	b.ReportMetric(fetched/n, "blobs-fetched")
	b.ReportMetric(treeUpload/n, "tree-upload-step-s")
	b.ReportMetric(tarUpload/n, "tarball-upload-step-s")
	b.ReportMetric(0, "ns/op")
}

func timedBench(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

func uploadSeconds(res deploy.Result) float64 {
	for _, st := range res.Servers[0].Steps {
		if st.Step == "upload" {
			return st.Seconds
		}
	}
	return 0
}

// benchTree writes the benchmarks' repository (deploy/benchtree) under root.
func benchTree(b *testing.B, root string) []string {
	files, err := benchtree.Write(root, benchFiles, benchBytes)
	if err != nil {
		b.Fatal(err)
	}
	return files
}
