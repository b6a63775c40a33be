package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/deploy"
)

// TestResultNamesHostKeysAndSwitchTime: what an attestation says about
// each server comes from the deploy itself: the fingerprint of the host
// key the server presented (and known_hosts accepted) and when current
// was pointed at the release.
func TestResultNamesHostKeysAndSwitchTime(t *testing.T) {
	f := startOpenSSH(t, 2)
	r := newRepo(t)
	r.write(map[string]string{"index.html": "v1\n"})
	res := f.mustDeploy(t, r, r.commit("v1"))
	for i, s := range res.Servers {
		want := sshFingerprint(f.sshd[i].HostKey)
		if s.HostKeySHA256 != want || !strings.HasPrefix(want, "SHA256:") {
			t.Errorf("server %s: host key %q, want %q", s.Server, s.HostKeySHA256, want)
		}
		if s.Host != f.sshd[i].Host || s.Port != f.sshd[i].Port {
			t.Errorf("server %s: host %q port %d", s.Server, s.Host, s.Port)
		}
		if s.SwitchedAt.IsZero() || s.SwitchedAt.Before(res.Started) || s.SwitchedAt.After(res.Finished) {
			t.Errorf("server %s: switched at %v, deploy ran %v to %v", s.Server, s.SwitchedAt, res.Started, res.Finished)
		}
	}
	if at := res.SwitchedAt(); at.IsZero() || at.Before(res.Servers[0].SwitchedAt) || at.Before(res.Servers[1].SwitchedAt) {
		t.Errorf("SwitchedAt %v is not the last server's switch", at)
	}
}

// TestWriteAttestationOnEveryServer writes the envelope next to the
// release on every server: exact bytes, read-only, no temporary file left,
// and writing it again (a retry) replaces it.
func TestWriteAttestationOnEveryServer(t *testing.T) {
	f := startOpenSSH(t, 2)
	r := newRepo(t)
	r.write(map[string]string{"index.html": "v1\n"})
	res := f.mustDeploy(t, r, r.commit("v1"))
	ctx := context.Background()
	for _, body := range []string{`{"payload":"first"}` + "\n", `{"payload":"second, it's \"quoted\" $(touch x)"}` + "\n"} {
		for _, w := range f.engine.WriteAttestation(ctx, f.target, res.Release, []byte(body)) {
			if w.Err != nil {
				t.Fatalf("%s: %v", w.Server, w.Err)
			}
		}
		for i, root := range f.roots {
			p := filepath.Join(root, "releases", res.Release, deploy.AttestationFile)
			if got := readFile(t, p); got != body {
				t.Errorf("server %d: attestation %q, want %q", i, got, body)
			}
			if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o444 {
				t.Errorf("server %d: mode %v, %v; want read-only", i, st.Mode(), err)
			}
			left, _ := filepath.Glob(filepath.Join(root, "releases", res.Release, ".tollgate", ".attestation.tmp-*"))
			if len(left) != 0 {
				t.Errorf("server %d: temporary files left: %v", i, left)
			}
			if got := readFile(t, filepath.Join(root, "current", deploy.AttestationFile)); got != body {
				t.Errorf("server %d: not reachable through current", i)
			}
		}
	}
}

// TestWriteAttestationRefusesAMissingRelease: an attestation is written
// only into a complete release; each server says why not.
func TestWriteAttestationRefusesAMissingRelease(t *testing.T) {
	f := startOpenSSH(t, 2)
	r := newRepo(t)
	r.write(map[string]string{"index.html": "v1\n"})
	f.mustDeploy(t, r, r.commit("v1"))
	ws := f.engine.WriteAttestation(context.Background(), f.target, "20990101000000-abcdef0", []byte("{}\n"))
	if len(ws) != 2 {
		t.Fatalf("%d outcomes for 2 servers", len(ws))
	}
	for _, w := range ws {
		if w.Err == nil || !strings.Contains(w.Err.Error(), "release 20990101000000-abcdef0 is not complete on this server") {
			t.Errorf("%s: %v", w.Server, w.Err)
		}
	}
	if ws := f.engine.WriteAttestation(context.Background(), f.target, "../etc", []byte("{}\n")); ws[0].Err == nil {
		t.Error("a release name with a path was accepted")
	}
}
