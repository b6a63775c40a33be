package main

import (
	"bytes"
	"context"
	"encoding/json"
	ghint "github.com/tollgate-dev/tollgate/integrations/github"
	"github.com/tollgate-dev/tollgate/internal/setup"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/web"
)

// setupOutput is an io.Writer the test can read while the command writes.
type setupOutput struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *setupOutput) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *setupOutput) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// setupRun is `tollgate setup` running in the background.
type setupRun struct {
	stdout, stderr *setupOutput
	code           chan int
	page           string // the local page's URL
}

var setupURLRe = regexp.MustCompile(`Open (http://127\.0\.0\.1:\d+)/ in a browser`)

func startSetup(t *testing.T, args ...string) *setupRun {
	t.Helper()
	r := &setupRun{stdout: &setupOutput{}, stderr: &setupOutput{}, code: make(chan int, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.code:
		case <-time.After(30 * time.Second):
			t.Error("setup did not stop")
		}
	})
	go func() {
		c := dispatch(ctx, append([]string{"setup", "--listen", "127.0.0.1:0"}, args...), r.stdout, r.stderr)
		r.code <- c
		close(r.code)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if m := setupURLRe.FindStringSubmatch(r.stdout.String()); m != nil {
			r.page = m[1] + "/"
			return r
		}
		select {
		case c := <-r.code:
			t.Fatalf("setup exited %d before serving its page\n%s%s", c, r.stdout, r.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("setup printed no page URL:\n%s", r.stdout)
	return nil
}

func (r *setupRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case c := <-r.code:
		return c
	case <-time.After(60 * time.Second):
		t.Fatalf("setup did not finish\n%s%s", r.stdout, r.stderr)
		return -1
	}
}

var (
	formActionRe = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	manifestRe   = regexp.MustCompile(`<input type="hidden" name="manifest" value="([^"]*)">`)
)

// clickCreate does what the browser does: load the local page, submit its
// form to GitHub, and follow GitHub's redirect back to the local server.
// It returns the form's action and the final page.
func clickCreate(t *testing.T, pageURL string) (action string, final *http.Response, body string) {
	t.Helper()
	resp, err := http.Get(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setup page: %d\n%s", resp.StatusCode, page)
	}
	am, mm := formActionRe.FindSubmatch(page), manifestRe.FindSubmatch(page)
	if am == nil || mm == nil {
		t.Fatalf("setup page has no manifest form:\n%s", page)
	}
	action = html.UnescapeString(string(am[1]))
	manifest := html.UnescapeString(string(mm[1]))
	// The browser follows GitHub's 302 to the local callback.
	resp, err = http.PostForm(action, url.Values{"manifest": {manifest}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return action, resp, string(b)
}

// writeSetupConfig writes a starter config (as `tollgate init` does) into dir.
func writeSetupConfig(t *testing.T, dir string) string {
	t.Helper()
	if code, out, errOut := runCLI(t, "init", "--dir", dir); code != exitOK {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	return filepath.Join(dir, "tollgate.yml")
}

// readEnvFile reads KEY=value lines.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			env[k] = v
		}
	}
	return env
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestSetupCreatesTheAppEndToEnd(t *testing.T) {
	tests := []struct {
		name       string
		org        string
		ghes       bool
		wantAction string // path of GitHub's form
	}{
		{name: "organisation, API URL given", org: "acme", wantAction: "/organizations/acme/settings/apps/new"},
		{name: "user account, Enterprise Server layout (API under /api/v3)", ghes: true, wantAction: "/settings/apps/new"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gh := githubtest.New()
			defer gh.Close()
			dir := t.TempDir()
			cfgPath := writeSetupConfig(t, dir)
			// Pre-existing secrets file with an unrelated variable that must survive.
			envPath := filepath.Join(dir, "tollgate.env")
			if err := os.WriteFile(envPath, []byte("API_DATABASE_URL=postgres://x\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			args := []string{"--config", cfgPath, "--github-url", gh.URL(), "--public-url", "https://tollgate.acme.test/"}
			if tc.org != "" {
				args = append(args, "--org", tc.org)
			}
			if !tc.ghes {
				// As on github.com, the API base is given apart from the web URL.
				args = append(args, "--api-url", gh.URL())
			}
			run := startSetup(t, args...)
			action, final, body := clickCreate(t, run.page)
			if final.StatusCode != http.StatusOK || !strings.Contains(body, "created") {
				t.Fatalf("callback page: %d\n%s\n%s", final.StatusCode, body, run.stderr)
			}
			if code := run.wait(t); code != exitOK {
				t.Fatalf("setup exit %d\n%s%s", code, run.stdout, run.stderr)
			}

			au, _ := url.Parse(action)
			if au.Path != tc.wantAction || len(au.Query().Get("state")) < 32 {
				t.Errorf("form action = %s, want path %s with a random state", action, tc.wantAction)
			}

			// What GitHub received: app.yml with Tollgate's URLs filled in.
			posted := gh.Manifests()
			if len(posted) != 1 {
				t.Fatalf("GitHub received %d manifests", len(posted))
			}
			var m map[string]any
			if err := json.Unmarshal(posted[0], &m); err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			if err := yaml.Unmarshal(ghint.AppManifest, &want); err != nil {
				t.Fatal(err)
			}
			if m["url"] != "https://tollgate.acme.test" ||
				m["hook_attributes"].(map[string]any)["url"] != "https://tollgate.acme.test/webhooks/github" ||
				!strings.HasPrefix(m["redirect_url"].(string), strings.TrimSuffix(run.page, "/")+setup.CallbackPath) {
				t.Errorf("manifest URLs: url=%v hook=%v redirect=%v", m["url"], m["hook_attributes"], m["redirect_url"])
			}
			cbs, _ := json.Marshal(m["callback_urls"])
			if want := `["https://tollgate.acme.test` + slack.PathOAuthCallback + `","https://tollgate.acme.test` + web.PathCallback + `"]`; string(cbs) != want {
				t.Errorf("callback_urls = %s, want the Slack linking and the web login callbacks %s", cbs, want)
			}
			wantPerms, _ := json.Marshal(want["default_permissions"])
			gotPerms, _ := json.Marshal(m["default_permissions"])
			wantEvents, _ := json.Marshal(want["default_events"])
			gotEvents, _ := json.Marshal(m["default_events"])
			if string(gotPerms) != string(wantPerms) || string(gotEvents) != string(wantEvents) {
				t.Errorf("permissions/events = %s %s, want app.yml's %s %s", gotPerms, gotEvents, wantPerms, wantEvents)
			}

			// What setup wrote.
			keyFile := filepath.Join(dir, "github-app-1.pem")
			key, err := os.ReadFile(keyFile)
			if err != nil || !bytes.Equal(bytes.TrimSpace(key), bytes.TrimSpace(gh.AppPrivateKeyPEM())) {
				t.Fatalf("private key file: %v", err)
			}
			if m := fileMode(t, keyFile); m != 0o600 {
				t.Errorf("%s mode %v, want 0600", keyFile, m)
			}
			if m := fileMode(t, envPath); m != 0o600 {
				t.Errorf("%s mode %v, want 0600", envPath, m)
			}
			clientID, clientSecret := gh.AppOAuthClient()
			env := readEnvFile(t, envPath)
			if env[setup.EnvWebhookSecret] != gh.WebhookSecret() || env[setup.EnvOAuthClientSecret] != clientSecret ||
				env["API_DATABASE_URL"] != "postgres://x" || env["TOLLGATE_PUBLIC_URL"] != "https://tollgate.acme.test" {
				t.Errorf("env file holds %v", keysOf(env))
			}

			// The written config parses with the secrets file as its environment.
			data, err := os.ReadFile(cfgPath)
			if err != nil {
				t.Fatal(err)
			}
			cfg, _, err := config.Parse(cfgPath, data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
			if err != nil {
				t.Fatalf("written config does not parse: %v\n%s", err, data)
			}
			wantOrg, wantAPI := "your-org", gh.URL()+"/"
			if tc.org != "" {
				wantOrg = tc.org
			}
			if tc.ghes {
				wantAPI = gh.URL() + "/api/v3/"
			}
			if cfg.GitHub.AppID != gh.AppID() || cfg.GitHub.WebhookSecret.Value() != gh.WebhookSecret() ||
				cfg.GitHub.OAuthClientID != clientID || cfg.GitHub.OAuthClientSecret.Value() != clientSecret ||
				cfg.GitHub.Org != wantOrg || cfg.PublicURL != "https://tollgate.acme.test" || cfg.GitHub.WebURL != gh.URL()+"/" || cfg.GitHub.APIURL != wantAPI {
				t.Errorf("config github section: %+v public_url %s", cfg.GitHub, cfg.PublicURL)
			}
			if !strings.Contains(string(data), "private_key_file: github-app-1.pem      # the GitHub App's private key") ||
				!strings.Contains(string(data), "# tollgate.yml — starter written by") {
				t.Errorf("config lost its comments or key file:\n%s", data)
			}
			for _, secret := range []string{gh.WebhookSecret(), clientSecret} {
				if strings.Contains(string(data), secret) {
					t.Error("a secret was written into the config itself")
				}
			}

			// Nothing secret on the terminal or the pages.
			assertNoSecrets(t, run.stdout.String()+run.stderr.String()+body, gh)

			out := run.stdout.String()
			for _, want := range []string{
				`Created GitHub App "` + strings.TrimSpace("Tollgate "+tc.org) + `" (id 1)`,
				"command: /deploy",
				`url: "https://tollgate.acme.test/slack/commands"`,
				`request_url: "https://tollgate.acme.test/slack/interactions"`,
				"- commands\n      - chat:write\n",
				"/installations/new",
				"Next steps:",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("stdout lacks %q:\n%s", want, out)
				}
			}
		})
	}
}

func keysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

// assertNoSecrets fails if text holds the webhook secret, the OAuth client
// secret or any line of the private key's body.
func assertNoSecrets(t *testing.T, text string, gh *githubtest.Server) {
	t.Helper()
	_, clientSecret := gh.AppOAuthClient()
	if strings.Contains(text, gh.WebhookSecret()) || strings.Contains(text, clientSecret) {
		t.Error("a secret was printed")
	}
	for _, l := range strings.Split(string(gh.AppPrivateKeyPEM()), "\n") {
		if len(l) > 20 && !strings.HasPrefix(l, "-----") && strings.Contains(text, l) {
			t.Error("the private key was printed")
			return
		}
	}
}

func TestSetupRefusesAForeignCallbackAndKeepsExistingKeys(t *testing.T) {
	gh := githubtest.New()
	defer gh.Close()
	dir := t.TempDir()
	cfgPath := writeSetupConfig(t, dir)
	oldKey := filepath.Join(dir, "github-app-1.pem")
	if err := os.WriteFile(oldKey, []byte("an earlier app's key"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := startSetup(t, "--config", cfgPath, "--github-url", gh.URL(), "--api-url", gh.URL(),
		"--public-url", "https://tollgate.acme.test", "--org", "acme")

	// A redirect that did not start from this run's page: a valid code, the wrong state.
	code := gh.ManifestCode()
	resp, err := http.Get(strings.TrimSuffix(run.page, "/") + setup.CallbackPath + "?code=" + code + "&state=not-ours")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("foreign callback: status %d, want 400", resp.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(dir, "tollgate.env")); err == nil {
		t.Fatal("a foreign callback wrote the secrets file")
	}
	// The code was not spent: the refusal called nothing at GitHub.
	if _, err := gh.Client().Post(gh.URL()+"/app-manifests/"+code+"/conversions", "application/json", nil); err != nil {
		t.Fatal(err)
	}

	_, final, body := clickCreate(t, run.page)
	if final.StatusCode != http.StatusOK {
		t.Fatalf("callback page: %d\n%s", final.StatusCode, body)
	}
	if c := run.wait(t); c != exitOK {
		t.Fatalf("setup exit %d\n%s%s", c, run.stdout, run.stderr)
	}
	if b, _ := os.ReadFile(oldKey); string(b) != "an earlier app's key" {
		t.Errorf("the existing key file was overwritten")
	}
	newKey := filepath.Join(dir, "github-app-1-2.pem")
	if m := fileMode(t, newKey); m != 0o600 {
		t.Errorf("%s mode %v", newKey, m)
	}
	data, _ := os.ReadFile(cfgPath)
	if !strings.Contains(string(data), "private_key_file: github-app-1-2.pem") {
		t.Errorf("config does not name the new key:\n%s", data)
	}
	if !strings.Contains(run.stderr.String(), "setup callback refused") {
		t.Errorf("the refusal was not logged:\n%s", run.stderr)
	}
	assertNoSecrets(t, run.stdout.String()+run.stderr.String(), gh)
}

func TestSetupUsageErrors(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeSetupConfig(t, dir)
	t.Setenv("TOLLGATE_PUBLIC_URL", "")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no config", []string{"--config", filepath.Join(dir, "none.yml"), "--public-url", "https://t.example"}, "run 'tollgate init' first"},
		{"no public URL", []string{"--config", cfgPath}, "no public URL"},
		{"public URL not http", []string{"--config", cfgPath, "--public-url", "ftp://t.example"}, "is not an http(s) URL"},
		{"bad GitHub URL", []string{"--config", cfgPath, "--public-url", "https://t.example", "--github-url", "github.com"}, "--github-url"},
		{"stray argument", []string{"--config", cfgPath, "extra"}, "usage: tollgate setup"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append([]string{"setup"}, tc.args...)...)
			if code != exitUsage || !strings.Contains(errOut, tc.wantErr) {
				t.Fatalf("exit %d, stderr %q; want %d and %q\n%s", code, errOut, exitUsage, tc.wantErr, out)
			}
		})
	}
}

// browserGet sends a GET to the setup server at page's address, as a
// browser would for a page on host: Host says host, and the Fetch
// metadata and Origin headers are set as given ("" leaves one out).
func browserGet(t *testing.T, page, path, host string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(page, "/")+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36")
	for k, v := range headers {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestSetupRefusesDNSRebindingAndCrossOriginCallbacks (issue 15 item 1):
// a page the operator has open points its own name at 127.0.0.1 and, as
// that same origin, reads the setup page for its state, then calls the
// callback with the manifest code of an App the attacker registered. Every
// step is refused: a Host other than the page's own address gets 421 with
// nothing of the run; a callback a script sends (another Origin, or not a
// navigation) gets 403; nothing is written and the attacker's code is not
// spent. The operator's own flow still completes afterwards. Fails before
// this change: the rebinding Host got the page with its state, and the
// callback with it wrote the attacker's App into the config.
func TestSetupRefusesDNSRebindingAndCrossOriginCallbacks(t *testing.T) {
	gh := githubtest.New()
	defer gh.Close()
	dir := t.TempDir()
	cfgPath := writeSetupConfig(t, dir)
	run := startSetup(t, "--config", cfgPath, "--github-url", gh.URL(), "--api-url", gh.URL(),
		"--public-url", "https://tollgate.acme.test", "--org", "acme")
	u, _ := url.Parse(run.page)
	port := u.Port()
	rebound := "rebind.attacker.test:" + port
	attackerOrigin := "http://" + rebound

	// The state, as the operator's browser sees it.
	code, page := browserGet(t, run.page, "/", u.Host, map[string]string{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"})
	am := formActionRe.FindStringSubmatch(page)
	if code != http.StatusOK || am == nil {
		t.Fatalf("the operator's page: %d\n%s", code, page)
	}
	fa, _ := url.Parse(html.UnescapeString(am[1]))
	state := fa.Query().Get("state")

	attackerCode := gh.ManifestCode()
	callback := setup.CallbackPath + "?code=" + attackerCode + "&state=" + state
	tests := []struct {
		name    string
		path    string
		host    string
		headers map[string]string
		want    int
	}{
		{"the page read by the rebound origin's script", "/", rebound,
			map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}, http.StatusMisdirectedRequest},
		{"the page opened under the rebound name", "/", rebound,
			map[string]string{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}, http.StatusMisdirectedRequest},
		{"the callback from the rebound origin", callback, rebound,
			map[string]string{"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"}, http.StatusMisdirectedRequest},
		{"the callback fetched cross-origin at the real address", callback, u.Host,
			map[string]string{"Origin": attackerOrigin, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}, http.StatusForbidden},
		{"the callback as a no-cors image at the real address", callback, u.Host,
			map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}, http.StatusForbidden},
		{"the page fetched cross-site at the real address", "/", u.Host,
			map[string]string{"Origin": attackerOrigin, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "cors"}, http.StatusForbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := browserGet(t, run.page, tc.path, tc.host, tc.headers)
			if code != tc.want {
				t.Errorf("status %d, want %d\n%s", code, tc.want, body)
			}
			if strings.Contains(body, state) {
				t.Error("the refusal carries the run's state")
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "tollgate.env")); err == nil {
		t.Fatal("a refused request wrote the secrets file")
	}
	if n := len(gh.CallsMatching(http.MethodPost, "/app-manifests/")); n != 0 {
		t.Fatalf("%d manifest conversions at GitHub: a refused callback spent a code", n)
	}
	for _, want := range []string{"setup request refused: host is not this setup page's address", "setup request refused: callback from another origin"} {
		if !strings.Contains(run.stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, run.stderr)
		}
	}

	// localhost with the same port is the page's own address too.
	if code, body := browserGet(t, run.page, "/", "localhost:"+port, nil); code != http.StatusOK {
		t.Errorf("localhost:%s: %d\n%s", port, code, body)
	}
	// The operator's flow, GitHub's redirect being a navigation, completes.
	_, final, body := clickCreate(t, run.page)
	if final.StatusCode != http.StatusOK {
		t.Fatalf("callback page: %d\n%s", final.StatusCode, body)
	}
	if c := run.wait(t); c != exitOK {
		t.Fatalf("setup exit %d\n%s%s", c, run.stdout, run.stderr)
	}
}
