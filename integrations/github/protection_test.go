package github

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The manifest asks for exactly what this package and the webhook intake
// use, and the docs explain each permission and event.
func TestAppManifestPermissions(t *testing.T) {
	root := filepath.Join("..", "..")
	b, err := os.ReadFile(filepath.Join(root, "app.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Name         string            `yaml:"name"`
		URL          string            `yaml:"url"`
		Public       *bool             `yaml:"public"`
		RedirectURL  string            `yaml:"redirect_url"`
		CallbackURLs []string          `yaml:"callback_urls"`
		Hook         map[string]any    `yaml:"hook_attributes"`
		Permissions  map[string]string `yaml:"default_permissions"`
		Events       []string          `yaml:"default_events"`
		Description  string            `yaml:"description"`
		RequestOAuth bool              `yaml:"request_oauth_on_install"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("app.yml: %v", err)
	}
	if m.Name == "" || m.URL == "" || m.RedirectURL == "" || m.Public == nil || *m.Public || m.Hook["active"] != true ||
		!strings.HasSuffix(m.Hook["url"].(string), "/webhooks/github") {
		t.Errorf("manifest basics wrong: %+v", m)
	}
	// The App's OAuth client signs people in twice: Slack users linking
	// their GitHub identity, and the web pages' login. GitHub redirects
	// only to a registered callback URL.
	var callbackPaths []string
	for _, c := range m.CallbackURLs {
		callbackPaths = append(callbackPaths, strings.TrimPrefix(c, m.URL))
	}
	if want := []string{"/oauth/github/callback", "/login/callback"}; !slices.Equal(callbackPaths, want) {
		t.Errorf("callback_urls = %v, want %s followed by these paths: %v", m.CallbackURLs, m.URL, want)
	}
	wantPerms := map[string]string{
		"metadata": "read", "contents": "write", "pull_requests": "write", "issues": "read",
		"deployments": "write", "actions": "read", "checks": "read", "statuses": "read", "members": "read",
		"administration": "read", "organization_administration": "read",
	}
	if !maps.Equal(m.Permissions, wantPerms) {
		t.Errorf("permissions = %v\nwant exactly %v", m.Permissions, wantPerms)
	}
	wantEvents := []string{"deployment", "deployment_protection_rule", "issue_comment", "membership", "organization", "pull_request"}
	got := slices.Sorted(slices.Values(m.Events))
	if !slices.Equal(got, wantEvents) {
		t.Errorf("events = %v, want %v", got, wantEvents)
	}
	doc, err := os.ReadFile(filepath.Join(root, "docs", "github-app.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, title := range []string{"Metadata", "Contents", "Pull requests", "Issues", "Deployments", "Actions", "Checks", "Commit statuses", "Members (organization)",
		"Administration", "Administration (organization)"} {
		if !strings.Contains(string(doc), "| "+title+" | ") {
			t.Errorf("docs/github-app.md does not explain the %s permission", title)
		}
	}
	for _, ev := range wantEvents {
		if !strings.Contains(string(doc), "| `"+ev+"` |") {
			t.Errorf("docs/github-app.md does not explain the %s event", ev)
		}
	}
}
