// Package setup registers Tollgate's GitHub App through GitHub's manifest
// flow: a local page posts app.yml's manifest to GitHub, GitHub sends the
// browser back with a code, and the code is exchanged for the App's id,
// key and secrets, which are written next to the configuration (key and
// secrets 0600, never printed). It also prints the Slack app manifest.
// cmd/tollgate's setup command parses its flags and calls Run.
package setup

import (
	"context"
	"fmt"
	ghint "github.com/tollgate-dev/tollgate/integrations/github"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Options are the setup command's flags.
type Options struct {
	ConfigPath string        // config to write the app into (written by tollgate init)
	EnvPath    string        // secrets file; "" means tollgate.env next to the config
	Org        string        // create the app in this organisation; "" means the user's account
	GitHubURL  string        // GitHub web URL, or a GitHub Enterprise Server's
	APIURL     string        // GitHub REST API URL; "" means derived from GitHubURL
	PublicURL  string        // where GitHub and Slack reach Tollgate; "" means the config's public_url
	Name       string        // app name; "" means Tollgate, or "Tollgate ORG"
	Listen     string        // address of the local setup page
	Timeout    time.Duration // give up after this long
}

// Exit codes Run returns, as tollgate's (DESIGN.md).
const (
	exitOK          = 0
	exitCheckFailed = 1
	exitUsage       = 2
)

// Run serves the local setup page until GitHub sends the browser back (or
// the timeout) and returns the exit code: 0 the app was created and its
// files written, 1 it was not, 2 bad usage.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) int {
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "tollgate setup: "+format+"\n", a...)
		return code
	}

	target, err := setupTargetFromFlags(o.ConfigPath, o.EnvPath, o.Org, o.GitHubURL, o.APIURL, o.PublicURL)
	if err != nil {
		return fail(exitUsage, "%v", err)
	}
	appName := o.Name
	if appName == "" {
		appName = strings.TrimSpace("Tollgate " + target.Org)
	}
	ln, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return fail(exitUsage, "listen on %s: %v", o.Listen, err)
	}
	local := "http://" + ln.Addr().String()
	state, err := newState()
	if err != nil {
		ln.Close()
		return fail(exitCheckFailed, "%v", err)
	}
	manifest, err := buildAppManifest(ghint.AppManifest, appName, target.PublicURL, local+CallbackPath)
	if err != nil {
		ln.Close()
		return fail(exitUsage, "%v", err)
	}
	convert, err := githubConverter(target.GitHub, &http.Client{Timeout: time.Minute})
	if err != nil {
		ln.Close()
		return fail(exitUsage, "%v", err)
	}
	flow := &setupFlow{target: target, formAction: target.GitHub.manifestFormAction(o.Org, state),
		manifestJSON: string(manifest), state: state, hosts: pageHosts(ln.Addr()), convert: convert,
		log: slog.New(slog.NewTextHandler(stderr, nil)), done: make(chan setupOutcome, 1)}
	srv := &http.Server{Handler: flow.routes(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()

	fmt.Fprintf(stdout, "Open %s/ in a browser on this machine and press \"Create GitHub App\".\n", local)
	fmt.Fprintf(stdout, "GitHub: %s  owner: %s  public URL: %s\n", target.GitHub.Web, ownerText(o.Org), target.PublicURL)
	fmt.Fprintln(stdout, "Waiting for GitHub to send you back …")

	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	select {
	case <-ctx.Done():
		return fail(exitCheckFailed, "no app was created: %v", context.Cause(ctx))
	case out := <-flow.done:
		if out.Err != nil {
			reportPartial(stderr, out.Written)
			return fail(exitCheckFailed, "%v", out.Err)
		}
		printSetupDone(stdout, target, out)
		return exitOK
	}
}

func ownerText(org string) string {
	if org == "" {
		return "your user account"
	}
	return "organisation " + org
}

// setupTargetFromFlags reads the config (without loading it: it is not
// complete yet) for public_url and fills in the defaults.
func setupTargetFromFlags(configPath, envPath, org, ghURL, apiURL, publicURL string) (setupTarget, error) {
	doc, _, err := readRawConfig(configPath)
	if err != nil {
		return setupTarget{}, err
	}
	g, err := resolveGitHubURLs(ghURL, apiURL)
	if err != nil {
		return setupTarget{}, err
	}
	t := setupTarget{ConfigPath: configPath, EnvPath: envPath, Org: org, GitHub: g}
	if t.EnvPath == "" {
		t.EnvPath = filepath.Join(filepath.Dir(configPath), "tollgate.env")
	}
	var raw string
	if _, v := mappingPair(doc.Content[0], "public_url"); v != nil && v.Kind == yaml.ScalarNode {
		raw = v.Value
	}
	value, varName := resolveVarRef(raw, os.LookupEnv)
	t.PublicURL, t.PublicURLVar = value, varName
	if publicURL != "" {
		t.PublicURL = publicURL
	}
	if t.PublicURL == "" {
		return setupTarget{}, fmt.Errorf("no public URL: give --public-url https://tollgate.example.com (where GitHub and Slack reach Tollgate) or set public_url in %s", configPath)
	}
	u, err := url.Parse(t.PublicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return setupTarget{}, fmt.Errorf("public URL %q is not an http(s) URL", t.PublicURL)
	}
	t.PublicURL = strings.TrimSuffix(u.String(), "/")
	return t, nil
}

// reportPartial says which files were written before a failure, so nothing
// GitHub showed once is silently lost.
func reportPartial(w io.Writer, wr setupWritten) {
	if wr.KeyFile != "" {
		fmt.Fprintf(w, "tollgate setup: the private key was written to %s\n", wr.KeyFile)
	}
	if wr.EnvFile != "" {
		fmt.Fprintf(w, "tollgate setup: the secrets were written to %s (%s)\n", wr.EnvFile, strings.Join(wr.EnvVars, ", "))
	}
}

func printSetupDone(w io.Writer, t setupTarget, out setupOutcome) {
	a, wr := out.App, out.Written
	fmt.Fprintf(w, "\nCreated GitHub App %q (id %d): %s\n", a.Name, a.ID, a.HTMLURL)
	fmt.Fprintf(w, "wrote %s (the app's private key, mode 0600)\n", wr.KeyFile)
	fmt.Fprintf(w, "wrote %s (mode 0600): %s\n", wr.EnvFile, strings.Join(wr.EnvVars, ", "))
	fmt.Fprintf(w, "updated %s: github.app_id, private_key_file, webhook_secret, oauth_client_id, oauth_client_secret\n", wr.Config)

	fmt.Fprintf(w, "\nSlack app manifest: at https://api.slack.com/apps choose Create New App → From a manifest,\nand paste the YAML between the lines:\n")
	name := a.Name
	if name == "" {
		name = "Tollgate"
	}
	fmt.Fprintf(w, "-----8<-----\n%s-----8<-----\n", slackManifest(name, t.PublicURL))

	fmt.Fprintf(w, "\nNext steps:\n")
	steps := []string{
		fmt.Sprintf("Install the GitHub App on the repositories to deploy: %s/installations/new", a.HTMLURL),
		"Create the Slack app from the manifest above and install it to your workspace; then add to " + wr.EnvFile + ":\n" +
			"     SLACK_BOT_TOKEN=xoxb-…   (OAuth & Permissions → Bot User OAuth Token)\n" +
			"     SLACK_SIGNING_SECRET=…   (Basic Information → Signing Secret)\n" +
			"     SLACK_CLIENT_SECRET=…    (Basic Information → Client Secret: Sign in with Slack, which /deploy link needs)\n" +
			"   and a slack: section to " + wr.Config + " (bot_token: ${SLACK_BOT_TOKEN}, signing_secret: ${SLACK_SIGNING_SECRET},\n" +
			"   client_id: <Basic Information → Client ID>, client_secret: ${SLACK_CLIENT_SECRET}, channel: C…); invite the bot to that channel.",
		"Describe your repositories, environments, teams and servers in " + wr.Config + " (docs/config.md).",
		"Check it with the secrets loaded: set -a; . " + wr.EnvFile + "; set +a; tollgate check-config " + wr.Config,
		"Run it: systemd (EnvironmentFile=" + wr.EnvFile + ") or Docker (--env-file " + wr.EnvFile + "); see docs/operations.md.",
		"Run 'tollgate doctor --config " + wr.Config + "' once it is up.",
	}
	for i, s := range steps {
		fmt.Fprintf(w, "%d. %s\n", i+1, s)
	}
}
