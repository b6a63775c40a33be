package github

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

// ProtectionRuleGate answers GitHub Actions runs waiting on Tollgate's
// custom deployment protection rule. It is also the bot.Deployer for
// environments of target type actions_gate: "deploying" such a request
// means approving the waiting run, since Actions deploys and Tollgate only
// gates. The server picks it by the environment's target type (and for
// any job carrying a protection-rule run: an Actions run is answered,
// never deployed over SSH).
type ProtectionRuleGate struct {
	app       *App
	publicURL string
}

// NewProtectionRuleGate returns a gate over app; publicURL is Tollgate's
// public base URL, linked from the answers.
func NewProtectionRuleGate(app *App, publicURL string) *ProtectionRuleGate {
	return &ProtectionRuleGate{app: app, publicURL: strings.TrimSuffix(publicURL, "/")}
}

// maxGateComment bounds the comment sent with an answer; GitHub shows it
// in the run's page.
const maxGateComment = 1000

// Approve lets run runID of repo deploy to envName.
func (g *ProtectionRuleGate) Approve(ctx context.Context, repo string, runID int64, envName, comment string) error {
	return g.answer(ctx, repo, runID, envName, "approved", comment)
}

// Reject stops run runID of repo from deploying to envName.
func (g *ProtectionRuleGate) Reject(ctx context.Context, repo string, runID int64, envName, comment string) error {
	return g.answer(ctx, repo, runID, envName, "rejected", comment)
}

// answer calls POST /repos/{o}/{r}/actions/runs/{run_id}/deployment_protection_rule
// (go-github v60 has no method for it).
func (g *ProtectionRuleGate) answer(ctx context.Context, repo string, runID int64, envName, state, comment string) error {
	if runID <= 0 || envName == "" {
		return fmt.Errorf("answering the protection rule of %s run %d: run id and environment are required", repo, runID)
	}
	owner, name, err := splitRepo(repo)
	if err != nil {
		return err
	}
	c, err := g.app.ForRepo(ctx, repo)
	if err != nil {
		return fmt.Errorf("answering the protection rule of %s run %d: %w", repo, runID, err)
	}
	body := map[string]string{"environment_name": envName, "state": state, "comment": clipRunes(comment, maxGateComment)}
	req, err := c.NewRequest("POST", fmt.Sprintf("repos/%s/%s/actions/runs/%d/deployment_protection_rule", owner, name, runID), body)
	if err != nil {
		return fmt.Errorf("answering the protection rule of %s run %d: %w", repo, runID, err)
	}
	if _, err := c.Do(ctx, req, nil); err != nil {
		return fmt.Errorf("answering %s to %s run %d (%s): %w", state, repo, runID, envName, err)
	}
	return nil
}

// Deploy approves the run a protection_rule request gates.
func (g *ProtectionRuleGate) Deploy(ctx context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	if job.ProtectionRule == nil {
		return bot.DeployOutcome{}, fmt.Errorf("request %s: no protection-rule run to approve", job.RequestID)
	}
	pr := job.ProtectionRule
	env := pr.EnvironmentName
	if env == "" {
		env = job.Environment
	}
	comment := fmt.Sprintf("Approved by Tollgate request %s: policy checks and approvals passed for %s.", job.RequestID, short(job.SHA))
	if g.publicURL != "" {
		comment += " Details: " + strings.TrimSuffix(g.publicURL, "/") + "/deployments/" + job.RequestID
	}
	begin := time.Now()
	if err := g.Approve(ctx, job.Repo, pr.RunID, env, comment); err != nil {
		return bot.DeployOutcome{}, fmt.Errorf("request %s: approving run %d of %s: %w", job.RequestID, pr.RunID, job.Repo, err)
	}
	return bot.DeployOutcome{Result: bot.ResultSucceeded, Duration: time.Since(begin)}, nil
}

// Rollback is refused: a GitHub Actions deployment is rolled back by
// running its workflow again on the earlier ref.
func (g *ProtectionRuleGate) Rollback(ctx context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	return bot.DeployOutcome{}, errors.New("a GitHub Actions deployment cannot be rolled back by Tollgate; rerun its workflow on the earlier commit")
}

// clipRunes shortens s to at most n runes, marking the cut.
func clipRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// answerProtectionRule rejects the waiting Actions run when its request
// is refused, rejected, expires, is canceled, or could not be approved.
// Approval itself goes through ProtectionRuleGate.Deploy.
func (rp *Reporter) answerProtectionRule(ctx context.Context, n bot.Notification) error {
	r := n.Request
	if r.ProtectionRule == nil || !ended(r) || r.State == bot.StateSucceeded {
		return nil
	}
	rp.mu.Lock()
	done := rp.answered[r.ID]
	rp.mu.Unlock()
	if done || r.ExternalRefs[RefProtectionAnswer] != "" {
		return nil
	}
	comment := fmt.Sprintf("Tollgate request %s: %s. Details: %s", r.ID, reasonOf(r), rp.logURL(r))
	if r.State == bot.StateFailed || r.State == bot.StateInterrupted {
		comment = fmt.Sprintf("Tollgate could not approve request %s: %s. Details: %s", r.ID, reasonOf(r), rp.logURL(r))
	}
	if err := rp.gate.Reject(ctx, r.Repo, r.ProtectionRule.RunID, r.ProtectionRule.EnvironmentName, comment); err != nil {
		return err
	}
	rp.mu.Lock()
	rp.trimLocked()
	rp.answered[r.ID] = true
	rp.mu.Unlock()
	return rp.cfg.Recorder.SetExternalRef(ctx, r.ID, RefProtectionAnswer, "rejected")
}
