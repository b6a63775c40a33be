// Package standalone_test proves that the repository stands alone: a user's
// fresh clone has no sibling folders, so no test, build step or make target
// may read a path outside the clone.
package standalone_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the directory holding go.mod, found upwards from this test.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// repoFiles lists the files a clone has (tracked, plus new files not ignored,
// so the check also covers work not yet committed).
func repoFiles(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	var files []string
	for _, f := range strings.Split(string(out), "\x00") {
		if f == "" {
			continue
		}
		if _, err := os.Lstat(filepath.Join(root, f)); err != nil {
			continue // deleted in the work tree
		}
		files = append(files, f)
	}
	return files
}

// A copy of the clone alone in an empty directory runs the tests that load
// recorded webhook payloads.
func TestFixtureTestsPassInAFreshClone(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs tests in a copy of the repository")
	}
	root := repoRoot(t)
	clone := filepath.Join(t.TempDir(), "tollgate")
	for _, f := range repoFiles(t, root) {
		if err := copyFile(filepath.Join(root, f), filepath.Join(clone, f)); err != nil {
			t.Fatal(err)
		}
	}
	if entries, _ := os.ReadDir(filepath.Dir(clone)); len(entries) != 1 {
		t.Fatalf("the clone's parent holds %d entries, want only the clone", len(entries))
	}
	cmd := exec.Command("go", "test", "-count=1",
		"-run", "TestUnknownEventIsAcknowledgedAndIgnored|TestFixture|TestPayload",
		"./integrations/github/", "./integrations/githubtest/")
	cmd.Dir = clone
	cmd.Env = cleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("fixture tests in a fresh copy at %s failed: %v\n%s", clone, err, out)
	}
	if !bytes.Contains(out, []byte("ok ")) {
		t.Fatalf("no package ran:\n%s", out)
	}
}

// cleanEnv is the environment without Tollgate's own variables, so nothing
// can point the copy back at this workspace.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TOLLGATE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func copyFile(src, dst string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	if st.Mode()&os.ModeSymlink != 0 {
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		return os.Symlink(target, dst)
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
