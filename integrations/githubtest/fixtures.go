package githubtest

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// embeddedFixtures are copies of the shared webhook fixtures this package
// builds payloads from, so builders work without the shared directory.
//
//go:embed testdata/github-webhooks/*.json
var embeddedFixtures embed.FS

// SharedDir locates the project's shared material directory (the one holding
// fixtures/github-webhooks): $TOLLGATE_SHARED_DIR if set, else the first
// "shared" directory found beside this package's source directory or one of
// its ancestors (the repository's sibling <repo>/../shared), else beside the
// working directory or its ancestors.
func SharedDir() (string, error) {
	if d := os.Getenv("TOLLGATE_SHARED_DIR"); d != "" {
		if !isDir(filepath.Join(d, "fixtures", "github-webhooks")) {
			return "", fmt.Errorf("TOLLGATE_SHARED_DIR=%s has no fixtures/github-webhooks", d)
		}
		return d, nil
	}
	var starts []string
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	for _, dir := range starts {
		for {
			cand := filepath.Join(dir, "shared")
			if isDir(filepath.Join(cand, "fixtures", "github-webhooks")) {
				return cand, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("shared fixtures directory not found (set TOLLGATE_SHARED_DIR)")
}

func isDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// Fixture returns the webhook fixture file called name (e.g.
// "pull_request.closed.payload.json"), from the shared fixtures directory
// when it is found, else from this package's embedded copy.
func Fixture(name string) ([]byte, error) {
	if dir, err := SharedDir(); err == nil {
		b, err := os.ReadFile(filepath.Join(dir, "fixtures", "github-webhooks", name))
		if err == nil {
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read fixture %s: %w", name, err)
		}
	}
	b, err := embeddedFixtures.ReadFile("testdata/github-webhooks/" + name)
	if err != nil {
		return nil, fmt.Errorf("read fixture %s: %w", name, err)
	}
	return b, nil
}
