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
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy"
	"github.com/tollgate-dev/tollgate/deploy/sshdtest"
	"golang.org/x/crypto/ssh"
)

// TestDeployKilledDuringUpload SIGKILLs a deploying process halfway through
// its upload: the old release must stay live, the lock must not outlive the
// process, and the next deploy must succeed and remove the partial release.
func TestDeployKilledDuringUpload(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	srv := sshdtest.Start(t, signer.PublicKey())
	f := newFixture(t, signer)
	f.sshd = []*sshdtest.Server{srv}
	sshdtest.WriteKnownHosts(t, f.target.KnownHostsFile, srv)
	f.addServer(t, srv.Host, srv.Port, srv.User)
	root := f.roots[0]

	r := newRepo(t)
	first := f.mustDeploy(t, r, r.write(map[string]string{"app.txt": "v1\n"}).commit("v1"))
	big := make([]byte, 4<<20)
	_, _ = rand.Read(big)
	sha := r.write(map[string]string{"app.txt": "v2\n", "big.bin": string(big)}).commit("v2")

	child := exec.Command(os.Args[0], "-test.run=^TestDeployHelperProcess$")
	child.Env = append(os.Environ(),
		"TOLLGATE_DEPLOY_HELPER=1",
		"HELPER_HOST="+srv.Host, "HELPER_PORT="+strconv.Itoa(srv.Port), "HELPER_USER="+srv.User,
		"HELPER_KEY="+keyFile, "HELPER_KNOWN_HOSTS="+f.target.KnownHostsFile, "HELPER_ROOT="+root,
		"HELPER_REPO="+r.dir, "HELPER_SHA="+sha)
	out := &syncBuf{}
	child.Stdout, child.Stderr = out, out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(root, "releases", "partial", "big.bin")
	waitFor(t, func() bool {
		st, err := os.Stat(partial)
		return err == nil && st.Size() > 0
	})
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	if st, _ := os.Stat(partial); st.Size() >= int64(len(big)) {
		t.Fatalf("upload finished before the kill (%d bytes); the test proves nothing\n%s", st.Size(), out.String())
	}

	if got := current(t, root); got != first.Release {
		t.Errorf("after the kill current = %q, want %q", got, first.Release)
	}
	if got := readFile(t, filepath.Join(root, "current/app.txt")); got != "v1\n" {
		t.Errorf("after the kill the live app.txt = %q", got)
	}

	f.target.LockWait = time.Minute // the dead process's session may take a moment to end
	res := f.mustDeploy(t, r, sha)
	if got := current(t, root); got != res.Release {
		t.Errorf("current = %q, want %q", got, res.Release)
	}
	if exists(filepath.Join(root, "releases", "partial")) || exists(filepath.Join(root, ".tollgate", "partial")) {
		t.Errorf("partial release left behind: %v", releases(t, root))
	}
	if got := readFile(t, filepath.Join(root, "current/big.bin")); got != string(big) {
		t.Errorf("big.bin differs after the redeploy")
	}
}

// TestDeployHelperProcess is the deploying process that
// TestDeployKilledDuringUpload kills; it does nothing in a normal test run.
func TestDeployHelperProcess(t *testing.T) {
	if os.Getenv("TOLLGATE_DEPLOY_HELPER") != "1" {
		t.Skip("helper process for TestDeployKilledDuringUpload")
	}
	pemBytes, err := os.ReadFile(os.Getenv("HELPER_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(os.Getenv("HELPER_PORT"))
	target := deploy.Target{
		Environment:          "staging",
		Servers:              []deploy.Server{{Host: os.Getenv("HELPER_HOST"), Port: port, User: os.Getenv("HELPER_USER")}},
		Signer:               signer,
		KnownHostsFile:       os.Getenv("HELPER_KNOWN_HOSTS"),
		Path:                 os.Getenv("HELPER_ROOT"),
		UploadBytesPerSecond: 256 << 10, // 4 MiB takes 16s: plenty of time to be killed
	}
	src, err := deploy.GitArchive(context.Background(), os.Getenv("HELPER_REPO"), os.Getenv("HELPER_SHA"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := (&deploy.Engine{}).Deploy(context.Background(), target, deploy.ReleaseSpec{SHA: os.Getenv("HELPER_SHA"), Name: "partial"}, src, os.Stdout)
	fmt.Println("helper finished:", res.Outcome, err)
}
