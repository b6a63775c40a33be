// Package configtest gives tests the example configuration as a user's
// install would hold it.
package configtest

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// ExampleCopy copies testdata/tollgate.example.yml and its example-keys/
// into a new temporary directory and returns the copy's path. Private keys
// get mode 0600, as `tollgate init` and ssh-keygen write them: git keeps no
// file modes, so in a fresh clone they are 0644, which check-config rightly
// warns about on a real install.
func ExampleCopy(t testing.TB) string {
	t.Helper()
	_, self, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("configtest: cannot find the repository")
	}
	src := filepath.Join(filepath.Dir(self), "..", "..", "testdata")
	dir := t.TempDir()
	copyFile(t, filepath.Join(src, "tollgate.example.yml"), filepath.Join(dir, "tollgate.example.yml"), 0o644)
	keys, err := os.ReadDir(filepath.Join(src, "example-keys"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "example-keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		mode := os.FileMode(0o600)
		if n := k.Name(); strings.HasSuffix(n, ".pub") || strings.HasPrefix(n, "known_hosts") || strings.HasSuffix(n, ".md") {
			mode = 0o644
		}
		copyFile(t, filepath.Join(src, "example-keys", k.Name()), filepath.Join(dir, "example-keys", k.Name()), mode)
	}
	return filepath.Join(dir, "tollgate.example.yml")
}

func copyFile(t testing.TB, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(to, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}
