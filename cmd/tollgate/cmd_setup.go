package main

import (
	"context"
	"io"
	"time"

	"github.com/tollgate-dev/tollgate/internal/setup"
)

func init() {
	register("setup", "register the GitHub App from app.yml (manifest flow) and print the Slack app manifest", runSetup)
}

func runSetup(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	flags := newFlags("setup", stderr,
		"usage: tollgate setup [--config tollgate.yml] [--org ORG] [--github-url URL] [--public-url URL]",
		"Serves a local page that registers Tollgate's GitHub App from app.yml, then writes the app id,",
		"private key (0600) and secrets (0600 env file) next to the config. Prints no secret.",
	)
	configPath := flags.String("config", "tollgate.yml", "config `FILE` to write the app into (written by 'tollgate init')")
	envPath := flags.String("env-file", "", "secrets `FILE` (KEY=value, mode 0600); default tollgate.env next to the config")
	org := flags.String("org", "", "create the app in this GitHub `organisation` (default: your user account)")
	ghURL := flags.String("github-url", "https://github.com", "GitHub web `URL`, or your GitHub Enterprise Server URL")
	apiURL := flags.String("api-url", "", "GitHub REST API `URL` (default: derived from --github-url)")
	publicURL := flags.String("public-url", "", "`URL` where GitHub and Slack reach Tollgate (default: public_url of the config)")
	name := flags.String("name", "", "app `name` (default: Tollgate, or 'Tollgate ORG'; GitHub lets you edit it)")
	listen := flags.String("listen", "127.0.0.1:0", "`address` of the local setup page")
	timeout := flags.Duration("timeout", 30*time.Minute, "give up after this long")
	if !parseFlags(flags, args) {
		return exitUsage
	}
	return setup.Run(ctx, setup.Options{ConfigPath: *configPath, EnvPath: *envPath, Org: *org, GitHubURL: *ghURL,
		APIURL: *apiURL, PublicURL: *publicURL, Name: *name, Listen: *listen, Timeout: *timeout}, stdout, stderr)
}
