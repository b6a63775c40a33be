package deploy_test

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/deploy"
)

// holdAfter is a Source that, once it has yielded the entry named after,
// waits until ready() holds (or a minute passes) before reading on: the
// test sees the servers holding most of the release before the source
// reaches its bad entry.
type holdAfter struct {
	deploy.Source
	after string
	ready func() bool
	next  bool // the entry before was after
	held  bool
}

func (h *holdAfter) Next() (deploy.Entry, io.Reader, error) {
	if h.next {
		h.next = false
		deadline := time.Now().Add(time.Minute)
		for !h.ready() {
			if time.Now().After(deadline) {
				return deploy.Entry{}, nil, errors.New("test: the servers never received the first files")
			}
			time.Sleep(20 * time.Millisecond)
		}
		h.held = true
	}
	e, r, err := h.Source.Next()
	h.next = err == nil && e.Path == h.after
	return e, r, err
}

// TestSourceFailingAtItsLastEntry: the source streams to every server as it
// is read, so a tarball whose very last entry is bad is refused after most
// of its bytes reached the servers. No server may switch, nothing may run,
// and the partial release must be gone from every server.
func TestSourceFailingAtItsLastEntry(t *testing.T) {
	big := make([]byte, 2<<20)
	_, _ = rand.Read(big)
	cases := []struct {
		name string
		last tarEntry
		want string
	}{
		{"device", tarEntry{name: "repo-abc/zz-null", typ: tar.TypeChar}, `"repo-abc/zz-null": device or fifo refused`},
		{"escaping symlink", tarEntry{name: "repo-abc/zz-logs", typ: tar.TypeSymlink, link: "../../../var/log"}, `"zz-logs": symlink to "../../../var/log" points outside the release`},
		{"symlink escaping through an earlier one", tarEntry{name: "repo-abc/zz-up", typ: tar.TypeSymlink, link: "a/b/.."}, `"zz-up"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := startOpenSSH(t, 3)
			r := newRepo(t)
			first := f.mustDeploy(t, r, r.write(map[string]string{"app.txt": "v1\n"}).commit("v1"))
			f.target.Hooks.BeforeSwitch = []string{"touch \"$TOLLGATE_DEPLOY_PATH/hook-ran\""}

			entries := []tarEntry{{name: "repo-abc/", typ: tar.TypeDir, mode: 0o755}, {name: "repo-abc/a/", typ: tar.TypeDir, mode: 0o755},
				{name: "repo-abc/a/b", typ: tar.TypeSymlink, link: ".."}}
			for i := 0; i < 4; i++ {
				entries = append(entries, tarEntry{name: "repo-abc/big" + strconv.Itoa(i) + ".bin", body: string(big)})
			}
			entries = append(entries, tc.last)
			src := &holdAfter{Source: deploy.TarSource(tarStream(t, entries...), 1), after: "big3.bin",
				ready: func() bool {
					// GNU tar reads whole 10 KiB records from a pipe, so the
					// very last bytes sent wait for more; three of four
					// files complete and the fourth begun is "most bytes".
					for _, root := range f.roots {
						st, err := os.Stat(filepath.Join(root, "releases/late/big2.bin"))
						if err != nil || st.Size() != int64(len(big)) || !exists(filepath.Join(root, "releases/late/big3.bin")) {
							return false
						}
					}
					return true
				}}
			var log syncBuf
			res, err := f.engine.Deploy(context.Background(), f.target, deploy.ReleaseSpec{SHA: "0123456789abcdef0123456789abcdef01234567", Name: "late"}, src, &log)
			if err == nil || res.Outcome != deploy.Failed || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("outcome %s, err %v\n%s", res.Outcome, err, log.String())
			}
			if !src.held {
				t.Fatalf("the bad entry was reached before the servers held the rest; the test proves nothing")
			}
			for i, root := range f.roots {
				if got := current(t, root); got != first.Release {
					t.Errorf("server %d: current = %q, want %q", i, got, first.Release)
				}
				if got := releases(t, root); len(got) != 1 || got[0] != first.Release {
					t.Errorf("server %d: releases %v: the partial release was left behind", i, got)
				}
				if exists(filepath.Join(root, ".tollgate", "late")) || exists(filepath.Join(root, "hook-ran")) {
					t.Errorf("server %d: metadata left behind or a hook ran", i)
				}
			}
			if res.Manifest != nil {
				t.Errorf("a refused source produced a manifest")
			}
		})
	}
}
