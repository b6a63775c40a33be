package deploy_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestBeforeSwitchHookFailureSwitchesNoServer(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 3)
		r := newRepo(t)
		first := f.mustDeploy(t, r, r.write(map[string]string{"app.txt": "v1\n"}).commit("v1"))

		// The hook fails only on the second server.
		if err := os.WriteFile(filepath.Join(f.roots[1], "fail-here"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		f.target.Hooks.BeforeSwitch = []string{`echo "preparing $TOLLGATE_RELEASE"; test ! -f "$TOLLGATE_DEPLOY_PATH/fail-here" || { echo "broken on this one" >&2; exit 3; }`}
		res, log, err := f.deploy(t, r, r.write(map[string]string{"app.txt": "v2\n"}).commit("v2"), deploy.ReleaseSpec{})

		if err == nil || res.Outcome != deploy.Failed {
			t.Fatalf("outcome %s, err %v", res.Outcome, err)
		}
		if !strings.Contains(err.Error(), f.target.Servers[1].Addr()+" before_switch") {
			t.Errorf("error %q does not name the server and step", err)
		}
		for i, root := range f.roots {
			if got := current(t, root); got != first.Release {
				t.Errorf("server %d: current = %q, want %q", i, got, first.Release)
			}
			if got := releases(t, root); len(got) != 1 || got[0] != first.Release {
				t.Errorf("server %d: releases = %v, want only %s", i, got, first.Release)
			}
			if exists(filepath.Join(root, ".tollgate", res.Release)) {
				t.Errorf("server %d: metadata of the failed release left behind", i)
			}
		}
		hooks := res.Servers[1].Hooks
		if len(hooks) != 1 || hooks[0].ExitCode != 3 || !strings.Contains(hooks[0].Output, "broken on this one") {
			t.Errorf("server 1 hooks = %+v", hooks)
		}
		if !strings.Contains(log, "broken on this one") {
			t.Errorf("log lacks the hook output:\n%s", log)
		}
	})
}

func TestFailedHealthCheckRollsBackEveryServer(t *testing.T) {
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()
	cases := []struct {
		name  string
		check deploy.HealthCheck
	}{
		{"url answers 503", deploy.HealthCheck{URL: unhealthy.URL + "/healthz?host={host}", Retries: 1, Interval: 10 * time.Millisecond}},
		{"command fails", deploy.HealthCheck{Command: `grep -q healthy status.txt`, Retries: 2, Interval: 10 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			forBackends(t, func(t *testing.T, b backend) {
				f := b.start(t, 3)
				r := newRepo(t)
				f.target.Hooks.AfterSwitch = []string{`echo "$TOLLGATE_RELEASE" >> "$TOLLGATE_DEPLOY_PATH/after_switch.log"`}
				first := f.mustDeploy(t, r, r.write(map[string]string{"status.txt": "healthy\n"}).commit("v1"))

				f.target.HealthCheck = tc.check
				res, _, err := f.deploy(t, r, r.write(map[string]string{"status.txt": "broken\n"}).commit("v2"), deploy.ReleaseSpec{})

				if err == nil || res.Outcome != deploy.RolledBack {
					t.Fatalf("outcome %s, err %v", res.Outcome, err)
				}
				for i, root := range f.roots {
					if got := current(t, root); got != first.Release {
						t.Errorf("server %d: current = %q, want %q", i, got, first.Release)
					}
					if got := readFile(t, filepath.Join(root, "current/status.txt")); got != "healthy\n" {
						t.Errorf("server %d: live status.txt = %q", i, got)
					}
					want := first.Release + "\n" + res.Release + "\n" + first.Release + "\n"
					if got := readFile(t, filepath.Join(root, "after_switch.log")); got != want {
						t.Errorf("server %d: after_switch ran for %q, want %q", i, got, want)
					}
					if exists(filepath.Join(root, "releases", res.Release)) {
						t.Errorf("server %d: rolled back release still on disk", i)
					}
					sr := res.Servers[i]
					if sr.Health == nil || sr.Health.OK || sr.Health.Attempts != tc.check.Retries+1 || sr.Live != first.Release {
						t.Errorf("server %d: health %+v live %q", i, sr.Health, sr.Live)
					}
				}
			})
		})
	}
}

func TestUnreachableServerMeansNoServerSwitches(t *testing.T) {
	f := startOpenSSH(t, 3)
	r := newRepo(t)
	first := f.mustDeploy(t, r, r.write(map[string]string{"app.txt": "v1\n"}).commit("v1"))

	f.sshd[2].Stop()
	f.target.DialTimeout = 5 * time.Second
	res, _, err := f.deploy(t, r, r.write(map[string]string{"app.txt": "v2\n"}).commit("v2"), deploy.ReleaseSpec{})

	if err == nil || res.Outcome != deploy.Failed {
		t.Fatalf("outcome %s, err %v", res.Outcome, err)
	}
	if !strings.Contains(err.Error(), f.target.Servers[2].Addr()+" connect") {
		t.Errorf("error %q does not name the unreachable server", err)
	}
	for i, root := range f.roots {
		if got := current(t, root); got != first.Release {
			t.Errorf("server %d: current = %q", i, got)
		}
		if got := releases(t, root); len(got) != 1 {
			t.Errorf("server %d: releases = %v", i, got)
		}
	}
}

func TestHostKeyMustMatchKnownHosts(t *testing.T) {
	other := startOpenSSH(t, 1) // a different server's key, listed under our address
	cases := []struct {
		name       string
		knownHosts func(f *fixture) string
		want       string
	}{
		{"unknown host", func(*fixture) string { return "" }, "unknown host"},
		{"changed key", func(f *fixture) string {
			return knownhosts.Line([]string{knownhosts.Normalize(f.sshd[0].Addr())}, other.sshd[0].HostKey) + "\n"
		}, "HOST KEY CHANGED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := startOpenSSH(t, 1)
			if err := os.WriteFile(f.target.KnownHostsFile, []byte(tc.knownHosts(f)), 0o600); err != nil {
				t.Fatal(err)
			}
			r := newRepo(t)
			res, _, err := f.deploy(t, r, r.write(map[string]string{"a": "a"}).commit("v1"), deploy.ReleaseSpec{})
			if err == nil || res.Outcome != deploy.Failed {
				t.Fatalf("outcome %s, err %v", res.Outcome, err)
			}
			fp := sshFingerprint(f.sshd[0].HostKey)
			for _, want := range []string{tc.want, f.sshd[0].Addr(), fp} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q lacks %q", err, want)
				}
			}
			if exists(f.roots[0]) {
				t.Errorf("deploy path was created on a refused host")
			}
		})
	}
}

func TestWrongClientKeyIsRefused(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 1)
		f.target.Signer = newSigner(t)
		r := newRepo(t)
		res, _, err := f.deploy(t, r, r.write(map[string]string{"a": "a"}).commit("v1"), deploy.ReleaseSpec{})
		if err == nil || res.Outcome != deploy.Failed {
			t.Fatalf("outcome %s, err %v", res.Outcome, err)
		}
		for _, want := range []string{f.target.Servers[0].Addr(), "authentication", sshFingerprint(f.target.Signer.PublicKey())} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if exists(f.roots[0]) {
			t.Errorf("deploy path was created without authentication")
		}
	})
}

func TestServerDyingDuringUploadMeansNoServerSwitches(t *testing.T) {
	f := startOpenSSH(t, 3)
	r := newRepo(t)
	first := f.mustDeploy(t, r, r.write(map[string]string{"app.txt": "v1\n"}).commit("v1"))
	f.target.UploadBytesPerSecond = 512 << 10
	sha := r.write(map[string]string{"app.txt": "v2\n", "big.bin": strings.Repeat("x", 2<<20)}).commit("v2")

	done := make(chan struct{})
	go func() {
		defer close(done)
		waitFor(t, func() bool { return exists(filepath.Join(f.roots[2], "releases", "dying", "big.bin")) })
		f.sshd[2].Stop()
	}()
	res, _, err := f.deploy(t, r, sha, deploy.ReleaseSpec{Name: "dying"})
	<-done
	if err == nil || res.Outcome != deploy.Failed {
		t.Fatalf("outcome %s, err %v", res.Outcome, err)
	}
	if !strings.Contains(err.Error(), f.target.Servers[2].Addr()+" upload") {
		t.Errorf("error %q does not name the dead server's upload", err)
	}
	for i, root := range f.roots {
		if got := current(t, root); got != first.Release {
			t.Errorf("server %d: current = %q, want %q", i, got, first.Release)
		}
	}
	for i, root := range f.roots[:2] {
		if exists(filepath.Join(root, "releases", "dying")) {
			t.Errorf("server %d: the new release was not removed", i)
		}
	}
}

// TestUploadIsVerifiedOnTheServer makes the server's tar damage one file as
// it extracts (a wrapper earlier in PATH; the in-process server inherits
// this process's environment): the deploy must stop before anything runs.
// The server hashes with openssl when it has it and with sha256sum when not;
// both must catch the damage and pass an intact release.
func TestUploadIsVerifiedOnTheServer(t *testing.T) {
	realTar, err := exec.LookPath("tar")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		openssl bool // whether the server's PATH has openssl
	}{
		{"openssl", true},
		{"sha256sum on a server without openssl", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bin := t.TempDir()
			path := bin + ":" + os.Getenv("PATH")
			if tc.openssl {
				if _, err := exec.LookPath("openssl"); err != nil {
					t.Skip("openssl is not installed here")
				}
			} else {
				// Only the tools a deploy runs (here and on the server), without openssl.
				for _, tool := range []string{"git", "sh", "sha256sum", "xargs", "find", "readlink", "sed", "flock", "perl",
					"nproc", "cat", "mkdir", "rm", "chmod", "ln", "touch"} {
					p, err := exec.LookPath(tool)
					if err != nil {
						t.Fatal(err)
					}
					if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
						t.Fatal(err)
					}
				}
				path = bin
			}
			tamper := filepath.Join(bin, "tamper")
			wrapper := "#!/bin/sh\n" + realTar + " \"$@\" || exit\n[ -e " + tamper + " ] || exit 0\nfor f in releases/*/index.html; do echo tampered >> \"$f\"; done\n"
			if err := os.WriteFile(filepath.Join(bin, "tar"), []byte(wrapper), 0o755); err != nil {
				t.Fatal(err)
			}
			t.Setenv("PATH", path)
			f := startInProcess(t, 1)
			f.target.Hooks.BeforeSwitch = []string{"touch ran"}
			r := newRepo(t)
			good := f.mustDeploy(t, r, r.write(map[string]string{"index.html": "v1\n"}).commit("v1"))

			if err := os.WriteFile(tamper, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			res, _, err := f.deploy(t, r, r.write(map[string]string{"index.html": "v2\n"}).commit("v2"), deploy.ReleaseSpec{})
			if err == nil || res.Outcome != deploy.Failed || !strings.Contains(err.Error(), "index.html has sha256") {
				t.Fatalf("outcome %s, err %v", res.Outcome, err)
			}
			if got := current(t, f.roots[0]); got != good.Release || len(releases(t, f.roots[0])) != 1 {
				t.Errorf("a release that failed verification was kept or went live: current %q, releases %v", got, releases(t, f.roots[0]))
			}
			if len(res.Servers[0].Hooks) != 0 {
				t.Errorf("a hook ran in an unverified release")
			}
		})
	}
}
