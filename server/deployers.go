package server

import (
	"context"
	"fmt"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/config"
)

// deployRouter is the bot.Deployer the domain sees: it hands each job to
// the Deployer of its environment's target type (config type: ssh, or
// actions_gate), so no Deployer knows of another. A job carrying a GitHub
// Actions protection-rule run always goes to the actions_gate Deployer:
// Actions deploys it, and Tollgate only answers the run, whatever the
// environment's type (as before the target types existed).
type deployRouter struct {
	typeOf func(repo, env string) string // "" when not configured
	byType map[string]bot.Deployer
}

var _ bot.Deployer = deployRouter{}

func (r deployRouter) pick(job bot.DeployJob) (bot.Deployer, error) {
	t := r.typeOf(job.Repo, job.Environment)
	if job.ProtectionRule != nil {
		t = config.TargetActionsGate
	}
	if t == "" {
		return nil, fmt.Errorf("request %s: %s is not configured for %s", job.RequestID, job.Environment, job.Repo)
	}
	d, ok := r.byType[t]
	if !ok {
		return nil, fmt.Errorf("request %s: %s of %s has target type %q, which this server cannot deploy", job.RequestID, job.Environment, job.Repo, t)
	}
	return d, nil
}

// Deploy implements bot.Deployer.
func (r deployRouter) Deploy(ctx context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	d, err := r.pick(job)
	if err != nil {
		return bot.DeployOutcome{}, err
	}
	return d.Deploy(ctx, job)
}

// Rollback implements bot.Deployer.
func (r deployRouter) Rollback(ctx context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	d, err := r.pick(job)
	if err != nil {
		return bot.DeployOutcome{}, err
	}
	return d.Rollback(ctx, job)
}

// heldDeployer runs each deploy under the replica's hold (replica.go):
// when the hold lapses (no heartbeat got through for two thirds of a
// lease, so other replicas are about to take the deploy for dead), the
// deploy is cut short and reported as interrupted (bot.ErrInterrupted),
// before anyone may start the next deploy of its environment.
type heldDeployer struct {
	bot.Deployer
	hold func() context.Context
}

// Deploy implements bot.Deployer.
func (h heldDeployer) Deploy(ctx context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	return h.held(ctx, job, h.Deployer.Deploy)
}

// Rollback implements bot.Deployer.
func (h heldDeployer) Rollback(ctx context.Context, job bot.DeployJob) (bot.DeployOutcome, error) {
	return h.held(ctx, job, h.Deployer.Rollback)
}

func (h heldDeployer) held(ctx context.Context, job bot.DeployJob, run func(context.Context, bot.DeployJob) (bot.DeployOutcome, error)) (bot.DeployOutcome, error) {
	hold := h.hold()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(hold, cancel)
	defer stop()
	out, err := run(rctx, job)
	if hold.Err() != nil && ctx.Err() == nil && (err != nil || out.Result == bot.ResultFailed) {
		return out, fmt.Errorf("%w: this replica's heartbeat lapsed while request %s deployed", bot.ErrInterrupted, job.RequestID)
	}
	return out, err
}
