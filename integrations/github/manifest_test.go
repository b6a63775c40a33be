package github

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestEmbeddedAppManifestMatchesRoot(t *testing.T) {
	root, err := os.ReadFile(filepath.Join("..", "..", "app.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(root, AppManifest) {
		t.Fatal("integrations/github/app.yml differs from app.yml: run go generate ./integrations/github")
	}
}

func TestRequiredPermissionsOfTheManifest(t *testing.T) {
	p, err := RequiredPermissions()
	if err != nil {
		t.Fatal(err)
	}
	if p["deployments"] != "write" || p["contents"] == "" {
		t.Errorf("required permissions %v lack deployments: write or contents", p)
	}
}
