package github

import (
	"context"
	"errors"
	"fmt"

	gh "github.com/google/go-github/v60/github"
	"github.com/tollgate-dev/tollgate/bot"
)

// Lifecycle ranks of deployment statuses: a request's statuses only ever
// move up, so a status at or below the rank already posted is stale or a
// repeat. Every final status ranks the same: the first one wins.
const (
	rankNone       = 0
	rankPending    = 1
	rankQueued     = 2
	rankInProgress = 3
	rankFinal      = 4
)

// statusRank ranks a GitHub deployment status state.
func statusRank(state string) int {
	switch state {
	case "pending":
		return rankPending
	case "queued":
		return rankQueued
	case "in_progress":
		return rankInProgress
	case "success", "failure", "error", "inactive":
		return rankFinal
	}
	return rankNone
}

// statusPlan is the deployment status a notification calls for.
type statusPlan struct {
	state, description string
	create             bool // worth creating the deployment for (it deploys)
	final              bool
	// passedThrough are the statuses a request in this state must have
	// gone through, in lifecycle order; posted first when missing.
	passedThrough []bot.State
}

func (p statusPlan) rank() int { return statusRank(p.state) }

// planStatus maps a notification to a deployment status, or ok=false.
func planStatus(n bot.Notification) (statusPlan, bool) {
	r := n.Request
	ran := []bot.State{bot.StateQueued, bot.StateRunning}
	switch n.Kind {
	case bot.NotifyApprovalNeeded:
		return statusPlan{state: "pending", description: fmt.Sprintf("waiting for %d approval(s)", r.RequiredApprovals)}, true
	case bot.NotifyRefused:
		return statusPlan{state: "failure", description: "refused: " + reasonOf(r), final: true}, true
	case bot.NotifyFinished:
		switch r.State {
		case bot.StateSucceeded:
			return statusPlan{state: "success", description: "deployed " + short(r.SHA), create: true, final: true, passedThrough: ran}, true
		case bot.StateRolledBack:
			return statusPlan{state: "failure", description: "failed and rolled back to the previous release", create: true, final: true, passedThrough: ran}, true
		case bot.StateInterrupted:
			return statusPlan{state: "error", description: "interrupted: " + reasonOf(r), create: true, final: true, passedThrough: ran}, true
		default:
			return statusPlan{state: "failure", description: "failed: " + reasonOf(r), create: true, final: true, passedThrough: ran}, true
		}
	case bot.NotifyStateChanged:
		switch r.State {
		case bot.StateQueued:
			return statusPlan{state: "queued", description: "queued for " + r.Environment, create: true}, true
		case bot.StateRunning:
			return statusPlan{state: "in_progress", description: "deploying " + short(r.SHA) + " to " + r.Environment,
				create: true, passedThrough: ran[:1]}, true
		case bot.StateRejected, bot.StateExpired, bot.StateCanceled:
			// Canceled may come from awaiting approval or from queued:
			// nothing is implied about the steps before.
			return statusPlan{state: "failure", description: string(r.State) + ": " + reasonOf(r), final: true}, true
		}
	}
	return statusPlan{}, false
}

// stepsTo lists the statuses to post for plan, given the rank already
// shown: the missing lifecycle steps first, then plan itself.
func stepsTo(n bot.Notification, plan statusPlan, shown int) []statusPlan {
	var steps []statusPlan
	for _, s := range plan.passedThrough {
		r := n.Request
		r.State = s
		step, _ := planStatus(bot.Notification{Kind: bot.NotifyStateChanged, Request: r})
		if step.rank() > shown {
			steps = append(steps, step)
		}
	}
	return append(steps, plan)
}

// reportDeployment brings the request's GitHub Deployment up to its
// state: it creates the deployment when the request deploys and has none
// yet, then posts the status n calls for, preceded by any lifecycle step
// not posted yet (queued before in_progress). A status at or below the
// rank already posted is not posted again. What was posted is read from
// the deployment's statuses on GitHub before posting to a deployment this
// call did not create: with several replicas another may have posted the
// last steps, and after a crash between posting and recording it, the
// retry must not post the step again. What this process remembers only
// skips a notification it knows to be stale.
func (rp *Reporter) reportDeployment(ctx context.Context, n bot.Notification) error {
	r := n.Request
	plan, ok := planStatus(n)
	if !ok {
		return nil
	}
	rp.mu.Lock()
	id := rp.deployments[r.ID]
	shown, known := rp.shown[r.ID]
	rp.mu.Unlock()
	if r.GitHubDeploymentID != 0 {
		id = r.GitHubDeploymentID
	}
	if known && plan.rank() <= shown {
		return nil // stale or repeated: GitHub already shows this step or a later one
	}
	owner, name, err := splitRepo(r.Repo)
	if err != nil {
		return err
	}
	c, err := rp.cfg.App.ForRepo(ctx, r.Repo)
	if err != nil {
		return err
	}
	var errs []error
	createdNow := false
	if id == 0 {
		if !plan.create {
			return nil
		}
		id, createdNow, err = rp.ensureDeployment(ctx, c, owner, name, r)
		if err != nil {
			return err
		}
		if createdNow {
			shown, known = rankNone, true
		}
		if err := rp.cfg.Recorder.SetGitHubDeployment(ctx, r.ID, id); err != nil {
			errs = append(errs, err) // remembered in memory and findable by payload: no duplicate
		}
	}
	if !createdNow {
		shown, err = rp.shownOnGitHub(ctx, c, owner, name, id)
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		if plan.rank() <= shown {
			rp.remember(r.ID, id, shown)
			return errors.Join(errs...)
		}
	}
	for _, step := range stepsTo(n, plan, shown) {
		if err := rp.postStatus(ctx, c, owner, name, id, n, step); err != nil {
			return errors.Join(append(errs, err)...)
		}
		rp.remember(r.ID, id, step.rank())
	}
	return errors.Join(errs...)
}

// postStatus posts one deployment status.
func (rp *Reporter) postStatus(ctx context.Context, c *gh.Client, owner, name string, id int64, n bot.Notification, plan statusPlan) error {
	r := n.Request
	desc := plan.description
	if plan.final && n.Kind == bot.NotifyFinished && rp.cfg.Audit != nil {
		if a, err := rp.cfg.Audit.AuditFacts(ctx, r.ID); err == nil {
			desc += fmt.Sprintf(" · audit #%d", a.Seq)
			if a.CheckpointSize > 0 {
				desc += fmt.Sprintf(", checkpoint %d@%s", a.CheckpointSize, a.RootPrefix)
			}
		}
	}
	req := &gh.DeploymentStatusRequest{State: gh.String(plan.state), LogURL: gh.String(rp.logURL(r)),
		Description: gh.String(clipRunes(desc, 140)), AutoInactive: gh.Bool(true)}
	if env := rp.env(r); env.URL != "" {
		req.EnvironmentURL = gh.String(env.URL)
	}
	if _, _, err := c.Repositories.CreateDeploymentStatus(ctx, owner, name, id, req); err != nil {
		return fmt.Errorf("posting %s on deployment %d: %w", plan.state, id, err)
	}
	return nil
}

// shownOnGitHub reads the highest lifecycle rank among a deployment's
// statuses.
func (rp *Reporter) shownOnGitHub(ctx context.Context, c *gh.Client, owner, name string, id int64) (int, error) {
	sts, _, err := c.Repositories.ListDeploymentStatuses(ctx, owner, name, id, &gh.ListOptions{PerPage: perPage})
	if err != nil {
		return 0, fmt.Errorf("reading the statuses of deployment %d: %w", id, err)
	}
	shown := rankNone
	for _, st := range sts {
		shown = max(shown, statusRank(st.GetState()))
	}
	return shown, nil
}

// remember records the deployment of a request and the rank it shows.
func (rp *Reporter) remember(requestID string, deploymentID int64, rank int) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.trimLocked()
	rp.deployments[requestID] = deploymentID
	rp.shown[requestID] = max(rp.shown[requestID], rank)
}
