package deploy_test

import (
	"archive/tar"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy"
)

func TestBadSourceIsRefusedBeforeConnecting(t *testing.T) {
	cases := []struct {
		name    string
		entries []tarEntry
		want    string
	}{
		{"dot-dot entry", []tarEntry{{name: "repo-abc/ok.txt", body: "ok"}, {name: "repo-abc/../evil", body: "x"}}, `"repo-abc/../evil"`},
		{"nested dot-dot", []tarEntry{{name: "repo-abc/a/../../evil", body: "x"}}, `"repo-abc/a/../../evil"`},
		{"absolute path", []tarEntry{{name: "/etc/cron.d/evil", body: "x"}}, `"/etc/cron.d/evil"`},
		{"symlink escaping", []tarEntry{{name: "repo-abc/logs", typ: tar.TypeSymlink, link: "../../../var/log"}}, `"logs"`},
		{"absolute symlink", []tarEntry{{name: "repo-abc/passwd", typ: tar.TypeSymlink, link: "/etc/passwd"}}, `"passwd"`},
		{"escape through another symlink", []tarEntry{
			{name: "repo-abc/a/b", typ: tar.TypeSymlink, link: ".."},
			{name: "repo-abc/up", typ: tar.TypeSymlink, link: "a/b/.."},
		}, `"up"`},
		{"entry below a symlink", []tarEntry{
			{name: "repo-abc/dir", typ: tar.TypeSymlink, link: "."},
			{name: "repo-abc/dir/x", body: "x"},
		}, `"dir/x"`},
		{"character device", []tarEntry{{name: "repo-abc/null", typ: tar.TypeChar}}, `"repo-abc/null"`},
		{"fifo", []tarEntry{{name: "repo-abc/pipe", typ: tar.TypeFifo}}, `"repo-abc/pipe"`},
		// .tollgate at the release root holds the attestation Tollgate
		// writes: a commit may not plant one, nor make it a link.
		{"forged attestation", []tarEntry{{name: "repo-abc/.tollgate/attestation.dsse.json", body: "{}"}}, `".tollgate/attestation.dsse.json": .tollgate at the release root is reserved`},
		{"reserved directory", []tarEntry{{name: "repo-abc/.tollgate", typ: tar.TypeDir}}, `".tollgate": .tollgate at the release root is reserved`},
		{"reserved name as a symlink", []tarEntry{{name: "repo-abc/.tollgate", typ: tar.TypeSymlink, link: "public"}}, `".tollgate": .tollgate at the release root is reserved`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var accepted atomic.Int32
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					accepted.Add(1)
					_ = c.Close()
				}
			}()
			f := newFixture(t, newSigner(t))
			host, port := splitAddr(t, ln.Addr().String())
			f.addServer(t, host, port, "deployer")
			if err := os.WriteFile(f.target.KnownHostsFile, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			src := deploy.TarSource(tarStream(t, tc.entries...), 1)
			res, err := f.engine.Deploy(context.Background(), f.target, deploy.ReleaseSpec{SHA: "0123456789abcdef0123456789abcdef01234567"}, src, nil)
			if err == nil || res.Outcome != deploy.Failed {
				t.Fatalf("outcome %s, err %v", res.Outcome, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the entry %s", err, tc.want)
			}
			if n := accepted.Load(); n != 0 {
				t.Errorf("%d connections made before the source was refused", n)
			}
		})
	}
}

func TestShellMetacharactersCannotInject(t *testing.T) {
	forBackends(t, func(t *testing.T, b backend) {
		marker := filepath.Join(t.TempDir(), "INJECTED")
		payloads := []string{
			"$(touch " + marker + ")",
			"`touch " + marker + "`",
			"'; touch " + marker + "; '",
			"\"; touch " + marker + "; \"",
			"x && touch " + marker,
			"x | touch " + marker,
		}
		cases := []struct {
			name   string
			mutate func(f *fixture, r *repo, spec *deploy.ReleaseSpec, payload string)
			refuse bool // refused by validation rather than deployed literally
		}{
			{"ref", func(_ *fixture, _ *repo, spec *deploy.ReleaseSpec, p string) { spec.Ref = "refs/heads/" + p }, false},
			{"file name", func(_ *fixture, r *repo, _ *deploy.ReleaseSpec, p string) {
				r.write(map[string]string{strings.ReplaceAll(p, "/", "_"): "payload file\n"})
			}, false},
			{"deploy path", func(f *fixture, _ *repo, _ *deploy.ReleaseSpec, p string) {
				for i := range f.target.Servers {
					f.target.Servers[i].Path = f.roots[i] + "/" + strings.ReplaceAll(p, "/", "_")
				}
			}, false},
			{"shared path", func(f *fixture, _ *repo, _ *deploy.ReleaseSpec, p string) {
				f.target.Shared = []string{strings.ReplaceAll(p, "/", "_") + "/"}
			}, false},
			{"release name", func(_ *fixture, _ *repo, spec *deploy.ReleaseSpec, p string) { spec.Name = "r1" + p }, true},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for _, payload := range payloads {
					f := b.start(t, 1)
					f.target.Hooks.BeforeSwitch = []string{`printf '%s' "$TOLLGATE_REF" > "$TOLLGATE_RELEASE_PATH.ref"`}
					r := newRepo(t)
					r.write(map[string]string{"index.html": "hi\n"})
					spec := deploy.ReleaseSpec{}
					tc.mutate(f, r, &spec, payload)
					res, log, err := f.deploy(t, r, r.commit("v1"), spec)
					if exists(marker) {
						t.Fatalf("payload %q executed a command (log:\n%s)", payload, log)
					}
					if tc.refuse {
						if err == nil {
							t.Errorf("payload %q was accepted", payload)
						}
						continue
					}
					if err != nil {
						t.Fatalf("payload %q: %v\n%s", payload, err, log)
					}
					root := f.target.Servers[0].Path
					if got := current(t, root); got != res.Release {
						t.Errorf("payload %q: current = %q", payload, got)
					}
					if name := strings.ReplaceAll(payload, "/", "_"); tc.name == "file name" && readFile(t, filepath.Join(root, "current", name)) != "payload file\n" {
						t.Errorf("file %q not deployed under its literal name", name)
					}
					if spec.Ref != "" {
						if got := readFile(t, filepath.Join(root, "releases", res.Release+".ref")); got != spec.Ref {
							t.Errorf("hook saw TOLLGATE_REF %q, want %q", got, spec.Ref)
						}
					}
				}
			})
		}
	})
}

// TestSymlinkChainFailsFast feeds a tarball whose links double the work of
// resolving them at every step (s<k> -> s<k-1>/../s<k-1>, 2^40 steps for
// 40 links). Before the fix the worker never finished and ignored its
// context; now the deploy fails at once, naming a link, before connecting.
func TestSymlinkChainFailsFast(t *testing.T) {
	entries := []tarEntry{{name: "repo-abc/s0", typ: tar.TypeDir, mode: 0o755}}
	for k := 1; k <= 45; k++ {
		prev := "s" + strconv.Itoa(k-1)
		entries = append(entries, tarEntry{name: "repo-abc/s" + strconv.Itoa(k), typ: tar.TypeSymlink, link: prev + "/../" + prev})
	}
	f := newFixture(t, newSigner(t))
	f.addServer(t, "127.0.0.1", 1, "deployer") // never contacted
	if err := os.WriteFile(f.target.KnownHostsFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type outcome struct {
		res deploy.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := f.engine.Deploy(ctx, f.target, deploy.ReleaseSpec{SHA: "0123456789abcdef0123456789abcdef01234567"},
			deploy.TarSource(tarStream(t, entries...), 1), nil)
		done <- outcome{res, err}
	}()
	select {
	case o := <-done:
		if o.err == nil || o.res.Outcome != deploy.Failed {
			t.Fatalf("outcome %s, err %v", o.res.Outcome, o.err)
		}
		if !strings.Contains(o.err.Error(), "too many levels of symlinks") || !strings.Contains(o.err.Error(), `source entry "s`) {
			t.Errorf("error %q does not name the link and the reason", o.err)
		}
	case <-time.After(time.Minute): // a liveness bound, not a speed target: the fixed check takes milliseconds
		cancel()
		t.Fatal("the deploy did not finish within a minute of reading 46 tar entries (exponential symlink resolution)")
	}
}
