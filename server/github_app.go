package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/tollgate-dev/tollgate/config"
	ghint "github.com/tollgate-dev/tollgate/integrations/github"
)

// GitHubApp is the configured GitHub App, for the commands that call
// GitHub outside serve (access-review, verify --anchors).
func GitHubApp(ctx context.Context, cfg *config.Config) (*ghint.App, error) {
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

// AnchorRepository is the configured audit.anchor_repository on the
// configured GitHub App.
func AnchorRepository(ctx context.Context, cfg *config.Config) (*ghint.Anchors, error) {
	if cfg.Audit.AnchorRepository == "" {
		return nil, errors.New("audit.anchor_repository is not set")
	}
	app, err := GitHubApp(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return ghint.NewAnchors(app, cfg.Audit.AnchorRepository, "")
}
