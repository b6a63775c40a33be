package deploy_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy"
)

func TestKeepReleasesDeletesOldestButNeverCurrentOrLastGood(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 2)
		f.target.KeepReleases = 2
		r := newRepo(t)
		var names []string
		for i := 0; i < 4; i++ {
			res := f.mustDeploy(t, r, r.write(map[string]string{"v.txt": strings.Repeat("v", i+1)}).commit("v"))
			names = append(names, res.Release)
		}
		for i, root := range f.roots {
			if got, want := releases(t, root), names[2:]; !slices.Equal(got, want) {
				t.Errorf("server %d: releases = %v, want %v", i, got, want)
			}
			for _, old := range names[:2] {
				if exists(filepath.Join(root, ".tollgate", old)) {
					t.Errorf("server %d: metadata of %s kept", i, old)
				}
			}
		}

		// A failed deploy is not counted and does not push out the last good release.
		f.target.KeepReleases = 1
		f.target.HealthCheck = deploy.HealthCheck{Command: "false"}
		res, _, err := f.deploy(t, r, r.write(map[string]string{"v.txt": "bad"}).commit("bad"), deploy.ReleaseSpec{})
		if err == nil || res.Outcome != deploy.RolledBack {
			t.Fatalf("outcome %s, err %v", res.Outcome, err)
		}
		for i, root := range f.roots {
			if got := current(t, root); got != names[3] {
				t.Errorf("server %d: current = %q, want %q", i, got, names[3])
			}
		}
	})
}

func TestRollbackToPreviousAndNamedRelease(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 3)
		f.target.Hooks.AfterSwitch = []string{`echo "$TOLLGATE_RELEASE" >> "$TOLLGATE_DEPLOY_PATH/after_switch.log"`}
		f.target.HealthCheck = deploy.HealthCheck{Command: "test -f version.txt"}
		r := newRepo(t)
		var deployed []deploy.Result
		for _, v := range []string{"1", "2", "3"} {
			deployed = append(deployed, f.mustDeploy(t, r, r.write(map[string]string{"version.txt": v}).commit("v"+v)))
		}

		cases := []struct {
			name    string
			to      string
			want    deploy.Result
			wantErr string
		}{
			{"previous good release", "", deployed[1], ""},
			{"named release", deployed[0].Release, deployed[0], ""},
			{"previous good after a rollback", "", deployed[2], ""},
			{"release missing", "20200101000000-deadbee", deploy.Result{}, "not complete on"},
			{"already live", deployed[2].Release, deploy.Result{}, "already live"},
		}
		live := deployed[2]
		for _, tc := range cases {
			var log syncBuf
			res, err := f.engine.Rollback(context.Background(), f.target, tc.to, &log)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || res.Outcome != deploy.Failed {
					t.Errorf("%s: outcome %s, err %v, want error %q", tc.name, res.Outcome, err, tc.wantErr)
				}
			} else {
				if err != nil || res.Outcome != deploy.Succeeded {
					t.Fatalf("%s: outcome %s, err %v\n%s", tc.name, res.Outcome, err, log.String())
				}
				if res.Release != tc.want.Release || res.SHA != tc.want.SHA || res.ManifestDigest != tc.want.ManifestDigest {
					t.Errorf("%s: rolled back to %s (%s %s), want %s", tc.name, res.Release, res.SHA, res.ManifestDigest, tc.want.Release)
				}
				live = tc.want
			}
			for i, root := range f.roots {
				if got := current(t, root); got != live.Release {
					t.Errorf("%s: server %d current = %q, want %q", tc.name, i, got, live.Release)
				}
				log := readFile(t, filepath.Join(root, "after_switch.log"))
				if lines := strings.Fields(log); lines[len(lines)-1] != live.Release {
					t.Errorf("%s: server %d: last after_switch ran for %q, want %q", tc.name, i, lines[len(lines)-1], live.Release)
				}
			}
		}
	})
}

func TestRollbackWithFailingHealthCheckSwitchesBack(t *testing.T) {
	f := startOpenSSH(t, 2)
	r := newRepo(t)
	f.mustDeploy(t, r, r.write(map[string]string{"version.txt": "1"}).commit("v1"))
	second := f.mustDeploy(t, r, r.write(map[string]string{"version.txt": "2"}).commit("v2"))
	f.target.HealthCheck = deploy.HealthCheck{Command: `grep -q 2 version.txt`}
	res, err := f.engine.Rollback(context.Background(), f.target, "", nil)
	if err == nil || res.Outcome != deploy.RolledBack {
		t.Fatalf("outcome %s, err %v", res.Outcome, err)
	}
	for i, root := range f.roots {
		if got := current(t, root); got != second.Release {
			t.Errorf("server %d: current = %q, want %q", i, got, second.Release)
		}
	}
}

func TestLockStopsAConcurrentDeploy(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 1)
		root := f.roots[0]
		gate := filepath.Join(t.TempDir(), "go")
		started := filepath.Join(t.TempDir(), "started")
		f.target.Hooks.BeforeSwitch = []string{`touch ` + started + `; while [ ! -f ` + gate + ` ]; do sleep 0.05; done`}
		r := newRepo(t)
		sha := r.write(map[string]string{"a": "1"}).commit("v1")

		first := make(chan error, 1)
		go func() {
			_, _, err := f.deploy(t, r, sha, deploy.ReleaseSpec{Name: "first"})
			first <- err
		}()
		waitFor(t, func() bool { return exists(started) })

		second := *f
		second.target.Hooks.BeforeSwitch = nil
		res, _, err := second.deploy(t, r, sha, deploy.ReleaseSpec{Name: "second"})
		if err == nil || res.Outcome != deploy.Failed || !strings.Contains(err.Error(), "another deploy holds the lock") ||
			!strings.Contains(err.Error(), "release=first") {
			t.Errorf("concurrent deploy: outcome %s, err %v", res.Outcome, err)
		}
		if exists(filepath.Join(root, "releases", "second")) {
			t.Errorf("the refused deploy wrote its release")
		}
		if err := os.WriteFile(gate, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := <-first; err != nil {
			t.Fatalf("first deploy: %v", err)
		}
		if got := current(t, root); got != "first" {
			t.Errorf("current = %q", got)
		}
		// The lock is free again.
		if _, _, err := second.deploy(t, r, sha, deploy.ReleaseSpec{Name: "third"}); err != nil {
			t.Errorf("deploy after the lock was released: %v", err)
		}
	})
}

func TestSharedPathsAreLinkedIntoEveryRelease(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 2)
		f.target.Shared = []string{"log/", "config/secrets.env"}
		r := newRepo(t)
		sha := r.write(map[string]string{"log/.keep": "", "config/app.yml": "a: 1\n", "config/secrets.env": "from repo\n"}).commit("v1")

		// A missing shared file is a clear error naming it.
		res, _, err := f.deploy(t, r, sha, deploy.ReleaseSpec{})
		if err == nil || res.Outcome != deploy.Failed || !strings.Contains(err.Error(), "shared/config/secrets.env is missing") {
			t.Fatalf("outcome %s, err %v", res.Outcome, err)
		}
		for _, root := range f.roots {
			if err := os.MkdirAll(filepath.Join(root, "shared/config"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "shared/config/secrets.env"), []byte("from server\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		res = f.mustDeploy(t, r, sha)
		for i, root := range f.roots {
			live := filepath.Join(root, "current")
			if got := readFile(t, filepath.Join(live, "config/secrets.env")); got != "from server\n" {
				t.Errorf("server %d: secrets.env = %q", i, got)
			}
			if err := os.WriteFile(filepath.Join(live, "log/app.log"), []byte("x"), 0o644); err != nil {
				t.Errorf("server %d: write log: %v", i, err)
			}
			if !exists(filepath.Join(root, "shared/log/app.log")) {
				t.Errorf("server %d: log/ is not the shared directory", i)
			}
			if got := readFile(t, filepath.Join(live, "config/app.yml")); got != "a: 1\n" {
				t.Errorf("server %d: app.yml = %q", i, got)
			}
			if slices.Contains(res.Servers[i].Sent, "config/secrets.env") {
				t.Errorf("server %d: a shared path's file was sent", i)
			}
		}
	})
}

func TestHookOutputIsRedactedAndBounded(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 1)
		const secret = "s3cr3t-t0ken-value"
		f.target.Secrets = []string{secret}
		f.target.Hooks.AfterSwitch = []string{
			`echo "token is ` + secret + `"; printf '%s' '` + secret[:6] + `'; sleep 0.2; printf '%s\n' '` + secret[6:] + `' >&2`,
			`i=0; while [ $i -lt 3000 ]; do echo "line $i of a very chatty hook, padding padding padding"; i=$((i+1)); done`,
		}
		r := newRepo(t)
		var log syncBuf
		src, err := deploy.GitArchive(context.Background(), r.dir, r.write(map[string]string{"a": "1"}).commit("v1"))
		if err != nil {
			t.Fatal(err)
		}
		res, err := f.engine.Deploy(context.Background(), f.target, deploy.ReleaseSpec{SHA: r.git("rev-parse", "HEAD")}, src, &log)
		if err != nil {
			t.Fatal(err)
		}
		hooks := res.Servers[0].Hooks
		if len(hooks) != 2 {
			t.Fatalf("hooks = %+v", hooks)
		}
		if strings.Contains(hooks[0].Output, secret) || strings.Contains(hooks[0].Command, secret) ||
			strings.Count(hooks[0].Output, "[REDACTED]") != 2 {
			t.Errorf("first hook output not redacted: %q (command %q)", hooks[0].Output, hooks[0].Command)
		}
		if strings.Contains(log.String(), secret) || strings.Contains(log.String(), secret[:6]+secret[6:]) {
			t.Errorf("deployment log contains the secret")
		}
		if !hooks[1].Truncated || len(hooks[1].Output) > 64<<10 || !strings.HasPrefix(hooks[1].Output, "line 0 of") {
			t.Errorf("chatty hook: truncated %v, %d bytes kept", hooks[1].Truncated, len(hooks[1].Output))
		}
		if len(log.String()) > 200<<10 {
			t.Errorf("log is %d bytes: hook output not bounded", len(log.String()))
		}
	})
}

func TestStatusReportsLiveRelease(t *testing.T) {
	f := startOpenSSH(t, 2)
	r := newRepo(t)
	first := f.mustDeploy(t, r, r.write(map[string]string{"a": "1"}).commit("v1"))
	second := f.mustDeploy(t, r, r.write(map[string]string{"a": "2"}).commit("v2"))
	st, err := f.engine.Status(context.Background(), f.target)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range st {
		if s.Server != f.target.Servers[i].Addr() || s.Current != second.Release || len(s.Releases) != 2 ||
			s.Releases[0].Name != second.Release || s.Releases[1].Name != first.Release || !s.Releases[1].Good {
			t.Errorf("server %d: status %+v", i, s)
		}
	}
}

// waitFor polls cond for up to a minute.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within a minute")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSharedPathBelowASymlinkIsRefused is an org member's commit that
// turns the parent of a shared path into a symlink to the web root: the
// shared secret's link would land in public/. The deploy must fail before
// anything switches, naming the shared path, and leave nothing behind.
func TestSharedPathBelowASymlinkIsRefused(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		f := b.start(t, 2)
		f.target.Shared = []string{"config/secrets.env"}
		for _, root := range f.roots {
			if err := os.MkdirAll(filepath.Join(root, "shared/config"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(root, "shared/config/secrets.env"), []byte("DB_PASSWORD=hunter2\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		r := newRepo(t)
		first := f.mustDeploy(t, r, r.write(map[string]string{"config/app.yml": "a: 1\n", "public/index.html": "hi\n"}).commit("v1"))

		r.remove("config/app.yml", "config")
		sha := r.symlink("config", "public").commit("config is the web root now")
		res, log, err := f.deploy(t, r, sha, deploy.ReleaseSpec{})
		if err == nil || res.Outcome != deploy.Failed {
			t.Fatalf("outcome %s, err %v\n%s", res.Outcome, err, log)
		}
		if !strings.Contains(err.Error(), `shared path "config/secrets.env"`) || !strings.Contains(err.Error(), `"config" is a symlink`) {
			t.Errorf("error %q does not name the shared path and its symlinked parent", err)
		}
		for i, root := range f.roots {
			if got := current(t, root); got != first.Release {
				t.Errorf("server %d: current = %q, want %q", i, got, first.Release)
			}
			if got := releases(t, root); len(got) != 1 {
				t.Errorf("server %d: releases %v, want only %s", i, got, first.Release)
			}
			matches, _ := filepath.Glob(filepath.Join(root, "releases/*/public/secrets.env"))
			if len(matches) > 0 {
				t.Errorf("server %d: the shared secret is linked into the web root: %v", i, matches)
			}
		}
	})
}
