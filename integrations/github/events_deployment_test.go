package github_test

import (
	"context"
	"testing"

	gogh "github.com/google/go-github/v60/github"

	"github.com/tollgate-dev/tollgate/bot"
)

func TestDeploymentCreatedTriggers(t *testing.T) {
	tests := []struct {
		name string
		// create makes the deployment and returns its id.
		create func(t *testing.T, w *hookWorld) int64
		want   bool
	}{
		{"created by a person through the API", func(t *testing.T, w *hookWorld) int64 {
			id, err := w.gh.CreateDeployment(hookRepo, "main", "staging", "bob")
			if err != nil {
				t.Fatal(err)
			}
			return id
		}, true},
		{"created by Tollgate itself", func(t *testing.T, w *hookWorld) int64 {
			d, _, err := w.api.Repositories.CreateDeployment(context.Background(), "acme", "shop", &gogh.DeploymentRequest{
				Ref: gogh.String("main"), Environment: gogh.String("staging"), RequiredContexts: &[]string{}})
			if err != nil {
				t.Fatal(err)
			}
			return d.GetID()
		}, false},
		{"created for an environment Tollgate does not manage", func(t *testing.T, w *hookWorld) int64 {
			id, err := w.gh.CreateDeployment(hookRepo, "main", "github-pages", "bob")
			if err != nil {
				t.Fatal(err)
			}
			return id
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newHookWorld(t)
			id := tt.create(t, w)
			p, err := w.gh.Payloads().DeploymentCreated(hookRepo, id)
			w.deliver(t, p, err)
			if !tt.want {
				if rs := w.requests(t); len(rs) != 0 {
					t.Fatalf("requests %+v", rs)
				}
				return
			}
			r := w.only(t)
			if r.Trigger != bot.TriggerGitHubDeployment || r.GitHubDeploymentID != id || r.SHA != hookSHA('a') ||
				r.Ref != "main" || r.Environment != "staging" || r.Requester != w.identity("bob") || r.State != bot.StateQueued {
				t.Fatalf("request %s deployment %d %s %s@%s by %+v: %s", r.Trigger, r.GitHubDeploymentID, r.Environment,
					r.Ref, r.SHA, r.Requester, r.State)
			}
		})
	}
}

func TestProtectionRuleTriggers(t *testing.T) {
	w := newHookWorld(t)
	p, err := w.gh.Payloads().DeploymentProtectionRule(hookRepo, 4242, "production", hookSHA('a'), "main", "alice")
	w.deliver(t, p, err)
	r := w.only(t)
	if r.Trigger != bot.TriggerProtectionRule || r.SHA != hookSHA('a') || r.Environment != "production" ||
		r.Requester != w.identity("alice") || r.State != bot.StateAwaitingApproval {
		t.Fatalf("request %s %s @%s by %+v: %s", r.Trigger, r.Environment, r.SHA, r.Requester, r.State)
	}
	if r.ProtectionRule == nil || r.ProtectionRule.RunID != 4242 || r.ProtectionRule.EnvironmentName != "production" ||
		r.ProtectionRule.CallbackURL != p.Get("deployment_callback_url") {
		t.Fatalf("protection rule %+v", r.ProtectionRule)
	}
	// Redelivered under a new id (GitHub retries gates), it is the same ask.
	p2, err := w.gh.Payloads().DeploymentProtectionRule(hookRepo, 4242, "production", hookSHA('a'), "main", "alice")
	if err != nil {
		t.Fatal(err)
	}
	_ = p2.Set("deployment.id", p.Get("deployment.id"))
	w.deliver(t, p2, nil)
	w.only(t)
}

func TestProtectionRuleWithForeignCallbackFails(t *testing.T) {
	w := newHookWorld(t)
	p, err := w.gh.Payloads().DeploymentProtectionRule(hookRepo, 4242, "production", hookSHA('a'), "main", "alice")
	if err != nil {
		t.Fatal(err)
	}
	_ = p.Set("deployment_callback_url", w.gh.APIURL()+"/repos/evil/other/actions/runs/4242/deployment_protection_rule")
	w.deliver(t, p, nil)
	if rs := w.requests(t); len(rs) != 0 {
		t.Fatalf("requests %+v", rs)
	}
	if got := w.inboxStates(t); got["failed"] != 1 {
		t.Fatalf("inbox %v, want the delivery failed", got)
	}
}
