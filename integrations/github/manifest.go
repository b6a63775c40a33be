package github

import (
	_ "embed"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// AppManifest is app.yml at the repository root, the GitHub App manifest:
// the permissions and events the integration needs. It is carried in the
// binary so `tollgate setup` registers the App and `tollgate doctor` checks
// an installation wherever tollgate is installed. A test keeps it identical
// to the root's; after changing app.yml run `go generate ./integrations/github`.
//
//go:generate cp ../../app.yml app.yml
//go:embed app.yml
var AppManifest []byte

// RequiredPermissions are the App permissions the manifest asks for
// (default_permissions): permission → "read" or "write".
func RequiredPermissions() (map[string]string, error) {
	var m struct {
		Permissions map[string]string `yaml:"default_permissions"`
	}
	if err := yaml.Unmarshal(AppManifest, &m); err != nil {
		return nil, fmt.Errorf("reading the embedded app manifest: %w", err)
	}
	if len(m.Permissions) == 0 {
		return nil, errors.New("the embedded app manifest lists no default_permissions")
	}
	return m.Permissions, nil
}
