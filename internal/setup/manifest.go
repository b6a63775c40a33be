package setup

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/web"
)

// githubURLs are the web and REST API bases of a GitHub instance, each with
// a trailing slash.
type githubURLs struct {
	Web string
	API string
}

// resolveGitHubURLs derives the API base from the web URL: github.com has
// api.github.com, GitHub Enterprise Server serves the API under /api/v3/.
// apiOverride, when set, wins.
func resolveGitHubURLs(web, apiOverride string) (githubURLs, error) {
	u, err := url.Parse(web)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" {
		return githubURLs{}, fmt.Errorf("--github-url %q is not an http(s) URL like https://github.com or https://ghe.example.com", web)
	}
	g := githubURLs{Web: strings.TrimSuffix(u.String(), "/") + "/"}
	switch {
	case apiOverride != "":
		a, err := url.Parse(apiOverride)
		if err != nil || (a.Scheme != "https" && a.Scheme != "http") || a.Host == "" {
			return githubURLs{}, fmt.Errorf("--api-url %q is not an http(s) URL", apiOverride)
		}
		g.API = strings.TrimSuffix(a.String(), "/") + "/"
	case g.Web == config.DefaultGitHubWebURL:
		g.API = config.DefaultGitHubAPIURL
	default:
		g.API = g.Web + "api/v3/"
	}
	return g, nil
}

// isDotCom reports whether g is github.com (the config's defaults).
func (g githubURLs) isDotCom() bool {
	return g.Web == config.DefaultGitHubWebURL && g.API == config.DefaultGitHubAPIURL
}

// manifestFormAction is where the browser posts the manifest: GitHub's
// "create a GitHub App from a manifest" page for a user or an organisation.
func (g githubURLs) manifestFormAction(org, state string) string {
	path := "settings/apps/new"
	if org != "" {
		path = "organizations/" + url.PathEscape(org) + "/settings/apps/new"
	}
	return g.Web + path + "?state=" + url.QueryEscape(state)
}

// buildAppManifest turns app.yml into the JSON manifest GitHub expects,
// with every Tollgate URL rebased onto publicURL and redirect_url pointing
// at the local setup server that receives the code.
func buildAppManifest(appYAML []byte, name, publicURL, redirectURL string) ([]byte, error) {
	var m map[string]any
	if err := yaml.Unmarshal(appYAML, &m); err != nil {
		return nil, fmt.Errorf("read the app manifest: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("read the app manifest: it is empty")
	}
	base := strings.TrimSuffix(publicURL, "/")
	rebase := func(v any) (string, error) {
		s, ok := v.(string)
		u, err := url.Parse(s)
		if !ok || err != nil || u.Host == "" {
			return "", fmt.Errorf("app manifest: %v is not a URL", v)
		}
		return base + u.EscapedPath(), nil
	}
	if name != "" {
		m["name"] = name
	}
	m["url"] = base
	m["redirect_url"] = redirectURL
	hook, _ := m["hook_attributes"].(map[string]any)
	if hook == nil {
		return nil, fmt.Errorf("app manifest: hook_attributes.url is missing")
	}
	var err error
	if hook["url"], err = rebase(hook["url"]); err != nil {
		return nil, err
	}
	// Slack identity linking and the web pages' login sign people in with
	// this app's OAuth client, so their callbacks must be registered
	// whatever app.yml lists.
	callbacks := []string{base + slack.PathOAuthCallback, base + web.PathCallback}
	list, _ := m["callback_urls"].([]any)
	for _, c := range list {
		u, err := rebase(c)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(callbacks, u) {
			callbacks = append(callbacks, u)
		}
	}
	m["callback_urls"] = callbacks
	return json.Marshal(m)
}

// slackManifest is the Slack app manifest for this Tollgate: the /deploy
// command and interactivity at public_url, slack.BotScopes, and Sign in
// with Slack for linking (the openid user scope, nothing more: only the
// team and user ids are needed, and its redirect URL).
func slackManifest(name, publicURL string) string {
	base := strings.TrimSuffix(publicURL, "/")
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	var scopes strings.Builder
	for _, sc := range slack.BotScopes {
		scopes.WriteString("      - " + sc + "\n")
	}
	return fmt.Sprintf(`display_information:
  name: %[1]s
  description: Deploys over SSH with approvals and a tamper-evident audit log.
features:
  bot_user:
    display_name: %[1]s
    always_online: true
  slash_commands:
    - command: /deploy
      url: %[2]s
      description: Deploy, roll back, lock and check environments
      usage_hint: "[owner/repo] <env> [ref] [reason] | status | help"
      should_escape: false
oauth_config:
  redirect_urls:
    - %[5]s
  scopes:
    bot:
%[4]s    user:
      - openid
settings:
  interactivity:
    is_enabled: true
    request_url: %[3]s
  org_deploy_enabled: false
  socket_mode_enabled: false
  token_rotation_enabled: false
`, q(name), q(base+slack.PathCommands), q(base+slack.PathInteractions), scopes.String(), q(base+slack.PathSlackCallback))
}

// readRawConfig reads the config file as a YAML document without expanding
// or validating it: before setup it cannot load (app id and secrets are
// what setup is about to write).
func readRawConfig(path string) (*yaml.Node, os.FileMode, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read config: %w (run 'tollgate init' first to write a starter config and audit keys)", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, fmt.Errorf("read config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, 0, fmt.Errorf("read config %s: %w", path, err)
	}
	if doc.Kind == 0 { // empty file
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}}
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, 0, fmt.Errorf("read config %s: the top level is not a mapping", path)
	}
	return &doc, st.Mode().Perm(), nil
}

// resolveVarRef resolves a value that is exactly ${VAR} or ${VAR:-default}
// from the environment; any other value is returned as is. name is the
// variable's name when the value is a reference.
func resolveVarRef(v string, lookup func(string) (string, bool)) (value, name string) {
	inner, ok := strings.CutPrefix(v, "${")
	if !ok || !strings.HasSuffix(inner, "}") {
		return v, ""
	}
	inner = strings.TrimSuffix(inner, "}")
	name, def, hasDef := strings.Cut(inner, ":-")
	if got, ok := lookup(name); ok && (got != "" || !hasDef) {
		return got, name
	}
	return def, name
}
