package githubtest

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestEmbeddedFixturesMatchShared(t *testing.T) {
	dir, err := SharedDir()
	if err != nil {
		t.Skipf("shared fixtures not present: %v", err)
	}
	names, err := fs.Glob(embeddedFixtures, "testdata/github-webhooks/*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("embedded fixtures: %v %v", names, err)
	}
	for _, name := range names {
		embedded, _ := embeddedFixtures.ReadFile(name)
		shared, err := os.ReadFile(filepath.Join(dir, "fixtures", "github-webhooks", filepath.Base(name)))
		if err != nil || !bytes.Equal(embedded, shared) {
			t.Errorf("%s differs from the shared fixture (%v)", filepath.Base(name), err)
		}
	}
}

func TestSharedDirHonoursEnv(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(dir string)
		wantErr bool
	}{
		{"dir with fixtures", func(dir string) { _ = os.MkdirAll(filepath.Join(dir, "fixtures", "github-webhooks"), 0o755) }, false},
		{"dir without fixtures", func(string) {}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(dir)
			t.Setenv("TOLLGATE_SHARED_DIR", dir)
			got, err := SharedDir()
			if (err != nil) != tt.wantErr || (!tt.wantErr && got != dir) {
				t.Errorf("SharedDir() = %q, %v", got, err)
			}
		})
	}
	t.Run("fixture falls back to the embedded copy", func(t *testing.T) {
		dir := t.TempDir()
		_ = os.MkdirAll(filepath.Join(dir, "fixtures", "github-webhooks"), 0o755)
		t.Setenv("TOLLGATE_SHARED_DIR", dir)
		if b, err := Fixture("ping.payload.json"); err != nil || len(b) == 0 {
			t.Errorf("Fixture = %d bytes, %v", len(b), err)
		}
	})
}
