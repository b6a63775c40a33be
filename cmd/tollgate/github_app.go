package main

import (
	"context"
	"fmt"

	"github.com/tollgate-dev/tollgate/config"
	ghint "github.com/tollgate-dev/tollgate/integrations/github"
)

// githubApp is the configured GitHub App, for the commands that call GitHub
// (access-review, verify --anchors).
func githubApp(ctx context.Context, cfg *config.Config) (*ghint.App, error) {
	key, err := cfg.GitHub.AppPrivateKey()
	if err != nil {
		return nil, err
	}
	app, err := ghint.NewApp(ctx, ghint.AppConfig{APIURL: cfg.GitHub.APIURL, AppID: cfg.GitHub.AppID, PrivateKey: key})
	if err != nil {
		return nil, fmt.Errorf("github: %w", err)
	}
	return app, nil
}
