package server

import (
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/config"
)

// named is a Deployer that answers with its name, so a test sees which
// Deployer a job reached.
type named string

func (n named) Deploy(context.Context, bot.DeployJob) (bot.DeployOutcome, error) {
	return bot.DeployOutcome{Result: bot.ResultSucceeded, Release: string(n)}, nil
}

func (n named) Rollback(context.Context, bot.DeployJob) (bot.DeployOutcome, error) {
	return bot.DeployOutcome{Result: bot.ResultSucceeded, Release: "rollback " + string(n)}, nil
}

func TestDeployRouterPicksTheTargetType(t *testing.T) {
	types := map[string]string{"acme/api/staging": config.TargetSSH, "acme/web/production": config.TargetActionsGate,
		"acme/k8s/production": "kubernetes"}
	r := deployRouter{typeOf: func(repo, env string) string { return types[repo+"/"+env] },
		byType: map[string]bot.Deployer{config.TargetSSH: named("ssh"), config.TargetActionsGate: named("gate")}}
	run := &bot.ProtectionRuleRun{RunID: 7, EnvironmentName: "staging"}
	cases := []struct {
		name, want, err string
		job             bot.DeployJob
		rollback        bool
	}{
		{name: "ssh environment", job: bot.DeployJob{Repo: "acme/api", Environment: "staging"}, want: "ssh"},
		{name: "ssh rollback", job: bot.DeployJob{Repo: "acme/api", Environment: "staging"}, rollback: true, want: "rollback ssh"},
		{name: "actions_gate environment", job: bot.DeployJob{Repo: "acme/web", Environment: "production"}, want: "gate"},
		{name: "an Actions run is answered, never deployed over SSH",
			job: bot.DeployJob{Repo: "acme/api", Environment: "staging", ProtectionRule: run}, want: "gate"},
		{name: "not configured", job: bot.DeployJob{RequestID: "r-1", Repo: "acme/api", Environment: "gone"}, err: "gone is not configured for acme/api"},
		{name: "a type this server has no Deployer for", job: bot.DeployJob{RequestID: "r-2", Repo: "acme/k8s", Environment: "production"},
			err: `target type "kubernetes"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			deploy := r.Deploy
			if c.rollback {
				deploy = r.Rollback
			}
			out, err := deploy(context.Background(), c.job)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil || out.Release != c.want {
				t.Fatalf("reached %q (err %v), want %q", out.Release, err, c.want)
			}
		})
	}
}
