package github_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

func TestMergeTriggers(t *testing.T) {
	tests := []struct {
		name     string
		merger   string
		base     string
		merged   bool
		want     bot.State // "" means no request
		wantCode bot.RefusalCode
	}{
		{"merged into main by a deployer", "alice", "main", true, bot.StateQueued, ""},
		{"merged by someone outside deployers", "erin", "main", true, bot.StateRejected, bot.CodeNotDeployer},
		{"merged into a branch that deploys nowhere", "alice", "release", true, "", ""},
		{"closed without merging", "alice", "main", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newHookWorld(t)
			w.gh.AddPullRequest(hookRepo, githubtest.PullRequest{Number: 4, Author: "bob", HeadSHA: hookSHA('b'), Base: tt.base})
			var p githubtest.Payload
			var err error
			if tt.merged {
				w.gh.MergePullRequest(hookRepo, 4, hookSHA('c'), tt.merger)
				p, err = w.gh.Payloads().PullRequestMerged(hookRepo, 4, hookSHA('c'), tt.merger, tt.base)
			} else {
				p, err = w.gh.Payloads().PullRequestClosed(hookRepo, 4, tt.merger)
			}
			w.deliver(t, p, err)
			if tt.want == "" {
				if rs := w.requests(t); len(rs) != 0 {
					t.Fatalf("requests: %+v", rs)
				}
				return
			}
			r := w.only(t)
			want := bot.Request{Trigger: bot.TriggerMerge, SHA: hookSHA('c'), Ref: tt.base, Environment: "staging",
				Requester: w.identity(tt.merger), SourceKey: "merge:acme/shop#4:staging"}
			if r.Trigger != want.Trigger || r.SHA != want.SHA || r.Ref != want.Ref || r.Environment != want.Environment ||
				r.Requester != want.Requester || r.SourceKey != want.SourceKey || r.State != tt.want {
				t.Fatalf("request\n got %s %s %s@%s by %+v key %s (%s)\nwant %s %s %s@%s by %+v key %s (%s)",
					r.Trigger, r.Environment, r.Ref, r.SHA, r.Requester, r.SourceKey, r.State,
					want.Trigger, want.Environment, want.Ref, want.SHA, want.Requester, want.SourceKey, tt.want)
			}
			if tt.wantCode != "" && (r.Decision == nil || r.Decision.Code != tt.wantCode) {
				t.Fatalf("decision %+v, want %s", r.Decision, tt.wantCode)
			}
			if got := w.inboxStates(t); got["done"] != 1 {
				t.Fatalf("a refusal must still finish the delivery: %v", got)
			}
		})
	}
}

func TestLabelTriggers(t *testing.T) {
	tests := []struct {
		name    string
		label   string
		labeler string
		wantEnv string // "" means no request
		want    bot.State
		code    bot.RefusalCode
	}{
		{"preview label by a deployer", "deploy:preview", "bob", "preview", bot.StateQueued, ""},
		{"production label on an unmerged head", "deploy:production", "bob", "production", bot.StateRejected, bot.CodeBranchNotAllowed},
		{"label added by someone outside the team", "deploy:preview", "erin", "preview", bot.StateRejected, bot.CodeNotDeployer},
		{"an unrelated label", "bug", "bob", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newHookWorld(t)
			w.gh.AddPullRequest(hookRepo, githubtest.PullRequest{Number: 7, Author: "carol", HeadRef: "checkout", HeadSHA: hookSHA('d')})
			p, err := w.gh.Payloads().PullRequestLabeled(hookRepo, 7, tt.label, tt.labeler)
			w.deliver(t, p, err)
			if tt.wantEnv == "" {
				if rs := w.requests(t); len(rs) != 0 {
					t.Fatalf("requests: %+v", rs)
				}
				return
			}
			r := w.only(t)
			if r.Trigger != bot.TriggerLabel || r.SHA != hookSHA('d') || r.Ref != "checkout" || r.Environment != tt.wantEnv ||
				r.Requester != w.identity(tt.labeler) || r.State != tt.want {
				t.Fatalf("request %s %s %s@%s by %+v: %s", r.Trigger, r.Environment, r.Ref, r.SHA, r.Requester, r.State)
			}
			if tt.code != "" && (r.Decision == nil || r.Decision.Code != tt.code) {
				t.Fatalf("decision %+v, want %s", r.Decision, tt.code)
			}
		})
	}
}

func TestLabelRequestDeploysThePRHead(t *testing.T) {
	w := newHookWorld(t)
	w.gh.AddPullRequest(hookRepo, githubtest.PullRequest{Number: 7, Author: "carol", HeadSHA: hookSHA('d')})
	p, err := w.gh.Payloads().PullRequestLabeled(hookRepo, 7, "deploy:preview", "bob")
	w.deliver(t, p, err)
	if _, err := w.svc.ProcessQueue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(w.deployer.Calls(), "\n"); got != "deploy acme/shop preview ddddddd label" {
		t.Fatalf("deploys:\n%s", got)
	}
}
