package deploy_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy"
	"github.com/tollgate-dev/tollgate/deploy/benchtree"
	"github.com/tollgate-dev/tollgate/deploy/sshdtest"
	"golang.org/x/crypto/ssh"
)

// Benchmarks of the SSH deploy against the usual tools over the same
// loopback sshd, with the same cipher. See BENCHMARKS.md ("SSH deploy").

const (
	benchFiles   = 20000
	benchBytes   = 200 << 20
	benchChanged = 200
)

// benchCiphers are the ciphers measured. aes128-gcm and chacha20-poly1305
// measured the same in earlier runs (BENCHMARKS.md), so one is enough.
var benchCiphers = []struct{ name, cipher string }{
	{"aes128-gcm", "aes128-gcm@openssh.com"},
}

// benchEnv is a generated tree, SSH servers and a client key usable both by
// the engine and by the ssh/rsync command-line tools.
type benchEnv struct {
	tree       string // the generated release tree
	files      []string
	keyFile    string
	signer     ssh.Signer
	knownHosts string
	servers    []*sshdtest.Server
}

func newBenchEnv(b *testing.B, servers int) *benchEnv {
	b.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	e := &benchEnv{keyFile: filepath.Join(dir, "id_ed25519"), knownHosts: filepath.Join(dir, "known_hosts")}
	if err := os.WriteFile(e.keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		b.Fatal(err)
	}
	if e.signer, err = ssh.NewSignerFromKey(priv); err != nil {
		b.Fatal(err)
	}
	e.servers = sshdtest.StartN(b, servers, e.signer.PublicKey())
	sshdtest.WriteKnownHosts(b, e.knownHosts, e.servers...)
	e.tree = filepath.Join(dir, "tree")
	e.files = generateTree(b, e.tree)
	return e
}

// generateTree writes the benchmarks' repository (deploy/benchtree) under root.
func generateTree(b *testing.B, root string) []string {
	files, err := benchtree.Write(root, benchFiles, benchBytes)
	if err != nil {
		b.Fatal(err)
	}
	return files
}

// change rewrites benchChanged files with new content of the same size.
func (e *benchEnv) change(b *testing.B, round int) []string {
	var changed []string
	for i := 0; i < benchChanged; i++ {
		rel := e.files[(round*7919+i*97)%len(e.files)]
		p := filepath.Join(e.tree, rel)
		data, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = rand.Read(data)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		changed = append(changed, rel)
	}
	return changed
}

func (e *benchEnv) target(cipher string, roots []string) deploy.Target {
	t := deploy.Target{
		Environment: "bench", Signer: e.signer, KnownHostsFile: e.knownHosts,
		Ciphers: []string{cipher}, KeepReleases: 1000, CommandTimeout: 10 * time.Minute, // cleanup is not what is measured
	}
	for i, s := range e.servers[:len(roots)] {
		_ = i
		t.Servers = append(t.Servers, deploy.Server{Host: s.Host, Port: s.Port, User: s.User, Path: roots[len(t.Servers)]})
	}
	return t
}

// deployTree deploys the tree as it is now, read through `tar -c` as a
// release tarball would be.
func (e *benchEnv) deployTree(b *testing.B, t deploy.Target, name string) deploy.Result {
	cmd := exec.Command("tar", "-c", "-C", e.tree, ".")
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	eng := &deploy.Engine{StageDir: b.TempDir()}
	res, err := eng.Deploy(context.Background(), t, deploy.ReleaseSpec{SHA: "0123456789abcdef0123456789abcdef01234567", Name: name}, deploy.TarSource(out, 0), nil)
	if werr := cmd.Wait(); err == nil {
		err = werr
	}
	if err != nil {
		b.Fatalf("deploy %s: %v", name, err)
	}
	return res
}

// sshCmd is the OpenSSH client command line for server s with cipher.
func (e *benchEnv) sshCmd(s *sshdtest.Server, cipher string) []string {
	return []string{"ssh", "-i", e.keyFile, "-o", "UserKnownHostsFile=" + e.knownHosts, "-o", "StrictHostKeyChecking=yes",
		"-o", "BatchMode=yes", "-o", "Compression=no", "-c", cipher, "-p", strconv.Itoa(s.Port), "-l", s.User, s.Host}
}

func run(b *testing.B, name string, args ...string) {
	cmd := exec.Command(name, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func timed(f func()) time.Duration {
	start := time.Now()
	f()
	return time.Since(start)
}

// BenchmarkFullUpload: first release of the whole tree, engine against
// `tar -c | ssh tar -x` and a cold `rsync -a`, interleaved in each round.
// Two parts of the engine's work are also timed alone, for the breakdown
// in BENCHMARKS.md: the stream through ssh into `cat > /dev/null` (no
// extraction), and the server hashing the release it received.
func BenchmarkFullUpload(b *testing.B) {
	e := newBenchEnv(b, 1)
	s := e.servers[0]
	for _, c := range benchCiphers {
		b.Run(c.name, func(b *testing.B) {
			var engine, tarSSH, rsync, sshCat, hash time.Duration
			var steps stepTimes
			for i := 0; i < b.N; i++ {
				base := b.TempDir()
				engine += timed(func() { steps.add(e.deployTree(b, e.target(c.cipher, []string{base + "/engine"}), "r1")) })
				hash += timed(func() {
					run(b, "sh", "-c", fmt.Sprintf("%s 'cd %s/engine/releases/r1 && find . -type f -print0 | xargs -0 -P2 -n1024 openssl dgst -sha256 -r > /dev/null'",
						strings.Join(e.sshCmd(s, c.cipher), " "), base))
				})
				sshCat += timed(func() {
					run(b, "sh", "-c", fmt.Sprintf("tar -c -C %s . | %s 'cat > /dev/null'", e.tree, strings.Join(e.sshCmd(s, c.cipher), " ")))
				})
				tarSSH += timed(func() {
					run(b, "sh", "-c", fmt.Sprintf("tar -c -C %s . | %s 'mkdir -p %s/tar && tar -x -f - -C %s/tar'",
						e.tree, strings.Join(e.sshCmd(s, c.cipher), " "), base, base))
				})
				rsync += timed(func() {
					run(b, "rsync", "-a", "-e", strings.Join(e.sshCmd(s, c.cipher)[:len(e.sshCmd(s, c.cipher))-1], " "),
						e.tree+"/", s.Host+":"+base+"/rsync/")
				})
				_ = os.RemoveAll(base)
			}
			b.ReportMetric(engine.Seconds()/float64(b.N), "engine-s")
			steps.report(b, engine)
			b.ReportMetric(tarSSH.Seconds()/float64(b.N), "tar-ssh-s")
			b.ReportMetric(rsync.Seconds()/float64(b.N), "rsync-s")
			b.ReportMetric(sshCat.Seconds()/float64(b.N), "tar-ssh-cat-s")
			b.ReportMetric(hash.Seconds()/float64(b.N), "server-hash-s")
			b.ReportMetric(engine.Seconds()/tarSSH.Seconds(), "engine/tar-ssh")
			b.ReportMetric(engine.Seconds()/rsync.Seconds(), "engine/rsync")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkIncremental: a release with benchChanged files changed, engine
// (hard-linked copy, changed files sent) against `rsync -a --link-dest`.
func BenchmarkIncremental(b *testing.B) {
	e := newBenchEnv(b, 1)
	s := e.servers[0]
	for _, c := range benchCiphers {
		b.Run(c.name, func(b *testing.B) {
			base := b.TempDir()
			t := e.target(c.cipher, []string{base + "/engine"})
			prev := "r0"
			e.deployTree(b, t, prev)
			rsh := strings.Join(e.sshCmd(s, c.cipher)[:len(e.sshCmd(s, c.cipher))-1], " ")
			if err := os.MkdirAll(base+"/rsync", 0o755); err != nil { // same machine as the "remote"
				b.Fatal(err)
			}
			run(b, "rsync", "-a", "-e", rsh, e.tree+"/", s.Host+":"+base+"/rsync/"+prev+"/")
			var engine, rsync time.Duration
			var steps stepTimes
			var sent int
			for i := 0; i < b.N; i++ {
				e.change(b, i)
				name := fmt.Sprintf("r%d", i+1)
				engine += timed(func() {
					res := e.deployTree(b, t, name)
					sent = res.Servers[0].FilesSent
					steps.add(res)
				})
				rsync += timed(func() {
					run(b, "rsync", "-a", "-e", rsh, "--link-dest=../"+prev, e.tree+"/", s.Host+":"+base+"/rsync/"+name+"/")
				})
				prev = name
			}
			if sent != benchChanged {
				b.Errorf("engine sent %d files, want %d", sent, benchChanged)
			}
			b.ReportMetric(engine.Seconds()/float64(b.N), "engine-s")
			steps.report(b, engine)
			b.ReportMetric(rsync.Seconds()/float64(b.N), "rsync-s")
			b.ReportMetric(engine.Seconds()/rsync.Seconds(), "engine/rsync")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkFanOut: the incremental release to 20 separate sshd processes
// against the same release to one, and against an xargs -P20 pipeline
// doing the same work per host: a hard-linked copy of the previous release
// (cp -al) and tar -x of the changed files into it.
func BenchmarkFanOut(b *testing.B) {
	const hosts = 20
	e := newBenchEnv(b, hosts)
	c := benchCiphers[0]
	base := b.TempDir()
	var roots []string
	for i := 0; i < hosts; i++ {
		roots = append(roots, fmt.Sprintf("%s/host%02d", base, i))
	}
	one := e.target(c.cipher, roots[:1])
	one.Servers[0].Path = base + "/single"
	all := e.target(c.cipher, roots)
	e.deployTree(b, one, "r0")
	e.deployTree(b, all, "r0")
	for h := range e.servers {
		run(b, "sh", "-c", fmt.Sprintf("mkdir -p %s/xargs%02d && cp -a %s %s/xargs%02d/r0", base, h, e.tree, base, h))
	}
	var tOne, tAll, tXargs time.Duration
	fanSteps := slowestSteps{}
	for i := 0; i < b.N; i++ {
		changed := e.change(b, i)
		name, prev := fmt.Sprintf("r%d", i+1), fmt.Sprintf("r%d", i)
		tOne += timed(func() { e.deployTree(b, one, name) })
		tAll += timed(func() { fanSteps.add(e.deployTree(b, all, name)) })
		list := filepath.Join(b.TempDir(), "changed")
		if err := os.WriteFile(list, []byte(strings.Join(changed, "\n")+"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		var lines []string
		for h, s := range e.servers {
			dir := fmt.Sprintf("%s/xargs%02d", base, h)
			lines = append(lines, fmt.Sprintf("tar -c -C %s -T %s | %s 'cp -al %s/%s %s/%s && tar -x -f - -C %s/%s'",
				e.tree, list, strings.Join(e.sshCmd(s, c.cipher), " "), dir, prev, dir, name, dir, name))
		}
		script := filepath.Join(b.TempDir(), "cmds")
		if err := os.WriteFile(script, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		tXargs += timed(func() { run(b, "sh", "-c", "tr '\\n' '\\0' < "+script+" | xargs -0 -P20 -n1 sh -c") })
	}
	b.ReportMetric(tOne.Seconds()/float64(b.N), "1host-s")
	b.ReportMetric(tAll.Seconds()/float64(b.N), "20hosts-s")
	b.ReportMetric(tXargs.Seconds()/float64(b.N), "xargs-cp-al-tar-s")
	fanSteps.report(b, tAll, "20hosts-")
	b.ReportMetric(tAll.Seconds()/tOne.Seconds(), "20hosts/1host")
	b.ReportMetric(tAll.Seconds()/tXargs.Seconds(), "20hosts/xargs")
	b.ReportMetric(0, "ns/op")
}

// stepTimes sums the engine's own step timings: "upload" is the tar stream
// plus the server-side extraction and hashing; "source" is reading and
// validating the whole source, which overlaps the steps; what is outside
// the steps is the first megabyte read before connecting.
type stepTimes struct {
	n                        int
	upload, sessions, source float64
}

func (s *stepTimes) add(res deploy.Result) {
	s.n++
	s.source += res.Source.Seconds
	for _, st := range res.Servers[0].Steps {
		if st.Step == "upload" {
			s.upload += st.Seconds
		} else {
			s.sessions += st.Seconds
		}
	}
}

func (s *stepTimes) report(b *testing.B, total time.Duration) {
	n := float64(s.n)
	b.ReportMetric(s.upload/n, "engine-upload-s")
	b.ReportMetric(s.sessions/n, "engine-other-steps-s")
	b.ReportMetric(s.source/n, "engine-source-s") // overlaps connect, lock and upload
	b.ReportMetric((total.Seconds()-s.upload-s.sessions)/n, "engine-before-connect-s")
}

// slowestSteps sums, over rounds, each step's slowest server: the servers
// run a step in parallel and the next step waits for all of them.
type slowestSteps map[string]float64

func (s slowestSteps) add(res deploy.Result) {
	s["rounds"]++
	slowest := map[string]float64{}
	for _, sr := range res.Servers {
		for _, st := range sr.Steps {
			slowest[st.Step] = max(slowest[st.Step], st.Seconds)
		}
	}
	for step, sec := range slowest {
		s[step] += sec
	}
}

func (s slowestSteps) report(b *testing.B, total time.Duration, prefix string) {
	n := s["rounds"]
	rest := total.Seconds()
	for step, sec := range s {
		if step != "rounds" {
			b.ReportMetric(sec/n, prefix+step+"-s")
			rest -= sec
		}
	}
	b.ReportMetric(rest/n, prefix+"stage-s")
}
