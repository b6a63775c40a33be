package github

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/inbox"
)

// onProtectionRule turns a GitHub Actions job waiting on Tollgate's custom
// deployment protection rule into a request under the same policy and
// approvals. Actions deploys; the decision goes to the run's callback.
func (d *Dispatcher) onProtectionRule(ctx context.Context, dl hookDelivery, e *github.DeploymentProtectionRuleEvent) error {
	if e.GetAction() != "requested" {
		return nil
	}
	repo, env, dep := e.GetRepo().GetFullName(), e.GetEnvironment(), e.GetDeployment()
	runID, err := protectionRunID(repo, e.GetDeploymentCallbackURL())
	if err != nil {
		return inbox.Permanent(fmt.Errorf("protection rule delivery %s: %w", dl.id, err))
	}
	if repo == "" || env == "" || dep.GetSHA() == "" {
		return inbox.Permanent(fmt.Errorf("protection rule delivery %s lacks repository, environment or SHA", dl.id))
	}
	dl.log = dl.log.With("run", runID, "environment", env)
	if !d.bot.ForDeploymentEvent(repo, env) {
		// Submit refuses and audits it; the run keeps waiting until an
		// operator fixes the configuration or GitHub times it out.
		dl.log.Warn("protection rule for an environment Tollgate does not manage")
	}
	// A re-run of the job makes a new deployment, which is a new ask.
	key := fmt.Sprintf("protection:%s:%d:%s", repo, runID, env)
	if dep.GetID() != 0 {
		key = fmt.Sprintf("protection:%s:deployment:%d", repo, dep.GetID())
	}
	return d.submitAll(ctx, dl, []bot.NewRequest{{
		SourceKey: key, Repo: repo, Environment: env, Ref: dep.GetRef(), SHA: dep.GetSHA(),
		Trigger: bot.TriggerProtectionRule, Requester: webhookIdentity(e.GetSender()),
		Reason:             "GitHub Actions run " + strconv.FormatInt(runID, 10),
		GitHubDeploymentID: dep.GetID(),
		ProtectionRule: &bot.ProtectionRuleRun{RunID: runID, EnvironmentName: env,
			CallbackURL: e.GetDeploymentCallbackURL(), Event: e.GetEvent()},
	}})
}

// protectionRunID reads the run id from a callback URL of the form
// .../repos/{owner}/{repo}/actions/runs/{run_id}/deployment_protection_rule,
// and refuses one that points at another repository.
func protectionRunID(repo, callback string) (int64, error) {
	u, err := url.Parse(callback)
	if err != nil || callback == "" {
		return 0, fmt.Errorf("deployment_callback_url %q is not a URL", callback)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	n := len(parts)
	if n < 7 || parts[n-1] != "deployment_protection_rule" || parts[n-3] != "runs" || parts[n-4] != "actions" || parts[n-7] != "repos" {
		return 0, fmt.Errorf("deployment_callback_url %q is not a protection rule callback", callback)
	}
	if !strings.EqualFold(parts[n-6]+"/"+parts[n-5], repo) {
		return 0, fmt.Errorf("deployment_callback_url %q is for another repository than %s", callback, repo)
	}
	id, err := strconv.ParseInt(parts[n-2], 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("deployment_callback_url %q has no valid run id", callback)
	}
	return id, nil
}
