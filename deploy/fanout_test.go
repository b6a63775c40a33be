package deploy_test

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/deploy"
	"github.com/tollgate-dev/tollgate/deploy/sshdtest"
)

// TestSlowServerStallsNoOther: three real sshd servers, at most two worked
// on at once; the third server's tar does not read its stream until the
// test lets it. The release (8 MiB, more than SSH windows and pipes hold)
// must reach and be verified on the other two while it waits; a fan-out
// that fed every server from one writer would stall them all. Then the slow
// server catches up from the spool and the deploy succeeds everywhere.
func TestSlowServerStallsNoOther(t *testing.T) {
	realTar, err := exec.LookPath("tar")
	if err != nil {
		t.Fatal(err)
	}
	bin, release := t.TempDir(), filepath.Join(t.TempDir(), "go")
	wrapper := "#!/bin/sh\nwhile [ ! -e " + release + " ]; do sleep 0.05; done\nexec " + realTar + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(bin, "tar"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	key := sshdtest.NewKey(t)
	servers := sshdtest.StartN(t, 2, key.PublicKey())
	servers = append(servers, sshdtest.StartWithPath(t, key.PublicKey(), bin+":"+os.Getenv("PATH")))
	f := newFixture(t, key)
	f.sshd = servers
	sshdtest.WriteKnownHosts(t, f.target.KnownHostsFile, servers...)
	for _, s := range servers {
		f.addServer(t, s.Host, s.Port, s.User)
	}
	f.target.MaxParallel = 2

	r := newRepo(t)
	files := map[string]string{}
	for _, n := range []string{"a", "b", "c", "d"} {
		b := make([]byte, 2<<20)
		_, _ = rand.Read(b)
		files[n+".bin"] = string(b)
	}
	sha := r.write(files).commit("v1")
	src, err := deploy.GitArchive(context.Background(), r.dir, sha)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	var log syncBuf
	type outcome struct {
		res deploy.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := f.engine.Deploy(context.Background(), f.target, deploy.ReleaseSpec{SHA: sha}, src, &log)
		done <- outcome{res, err}
	}()
	waitFor(t, func() bool {
		return strings.Count(log.String(), "] verified 4 files") == 2
	})
	slow := "[" + f.target.Servers[2].Addr() + "] verified"
	if strings.Contains(log.String(), slow) || len(releases(t, f.roots[2])) > 0 {
		t.Fatalf("the slow server was not held; the test proves nothing:\n%s", log.String())
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil || o.res.Outcome != deploy.Succeeded {
		t.Fatalf("outcome %s, err %v\n%s", o.res.Outcome, o.err, log.String())
	}
	for i, root := range f.roots {
		if got := current(t, root); got != o.res.Release {
			t.Errorf("server %d: current = %q", i, got)
		}
	}
	if !strings.Contains(log.String(), slow+" 4 files") {
		t.Errorf("the slow server was not verified:\n%s", log.String())
	}
}
