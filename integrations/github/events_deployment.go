package github

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/inbox"
)

// actionsAppSlug is the GitHub App behind GitHub Actions' own deployments.
const actionsAppSlug = "github-actions"

// deploymentExtras is what go-github v60's DeploymentEvent lacks: the
// action, and the app that created the deployment.
type deploymentExtras struct {
	Action     string `json:"action"`
	Deployment struct {
		PerformedViaGitHubApp *struct {
			ID   int64  `json:"id"`
			Slug string `json:"slug"`
		} `json:"performed_via_github_app"`
	} `json:"deployment"`
}

// onDeployment turns a deployment created outside Tollgate (the API, the
// CLI, another tool) into a request for it. Tollgate's own deployments
// mirror requests that exist already, and GitHub Actions' deployments are
// deployed by Actions (gated through the protection rule), so both are skipped.
func (d *Dispatcher) onDeployment(ctx context.Context, dl hookDelivery, e *github.DeploymentEvent) error {
	var extra deploymentExtras
	if err := json.Unmarshal(dl.payload, &extra); err != nil {
		return inbox.Permanent(fmt.Errorf("decoding deployment action and origin in delivery %s: %w", dl.id, err))
	}
	if extra.Action != "created" {
		return nil
	}
	dep, repo := e.GetDeployment(), e.GetRepo().GetFullName()
	if app := extra.Deployment.PerformedViaGitHubApp; app != nil {
		switch {
		case app.ID == d.appID:
			dl.log.Debug("skipping Tollgate's own deployment", "deployment", dep.GetID())
			return nil
		case app.Slug == actionsAppSlug:
			dl.log.Debug("skipping a GitHub Actions deployment", "deployment", dep.GetID())
			return nil
		}
	}
	if strings.EqualFold(dep.GetCreator().GetLogin(), actionsAppSlug+"[bot]") {
		dl.log.Debug("skipping a GitHub Actions deployment", "deployment", dep.GetID())
		return nil
	}
	env := dep.GetEnvironment()
	if !d.bot.ForDeploymentEvent(repo, env) {
		dl.log.Info("deployment to an environment Tollgate does not manage", "environment", env)
		return nil
	}
	if dep.GetID() == 0 || dep.GetSHA() == "" {
		return inbox.Permanent(fmt.Errorf("deployment in delivery %s has no id or SHA", dl.id))
	}
	return d.submitAll(ctx, dl, []bot.NewRequest{{
		SourceKey: fmt.Sprintf("deployment:%d", dep.GetID()),
		Repo:      repo, Environment: env, Ref: dep.GetRef(), SHA: dep.GetSHA(),
		Trigger: bot.TriggerGitHubDeployment, Requester: webhookIdentity(dep.GetCreator()),
		Reason: dep.GetDescription(), GitHubDeploymentID: dep.GetID(),
	}})
}
