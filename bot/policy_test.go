package bot_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

var (
	t0        = time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
	deployers = bot.Team{Org: "acme", Slug: "deployers"}
	approvers = bot.Team{Org: "acme", Slug: "approvers"}
	oncall    = bot.Team{Org: "acme", Slug: "oncall"}
	alice     = bot.Identity{Login: "alice", GitHubID: 1}
	bob       = bot.Identity{Login: "bob", GitHubID: 2}
	carol     = bot.Identity{Login: "carol", GitHubID: 3}
	mallory   = bot.Identity{Login: "mallory", GitHubID: 66}
)

const (
	shaMain = "1111111111111111111111111111111111111111"
	shaHead = "2222222222222222222222222222222222222222"
	// shaBackdoor is an intermediate commit of PR #7 that its final head reverted.
	shaBackdoor = "3333333333333333333333333333333333333333"
)

func prodPolicy() *bot.EnvironmentPolicy {
	return &bot.EnvironmentPolicy{
		Repo: "acme/shop", Environment: "production",
		Deployers: []bot.Team{deployers}, Approvers: []bot.Team{approvers}, Emergency: []bot.Team{oncall},
		RequiredApprovals: 1, Branches: []string{"main"}, RequirePRReview: true, RequireChecks: true,
	}
}

// reviewedPR is PR #7 by bob, merged, approved by carol on its final head.
func reviewedPR() *bot.PullRequest {
	return &bot.PullRequest{Number: 7, Author: bob, Title: "Faster checkout", HeadRef: "faster-checkout",
		HeadSHA: shaHead, MergedSHA: shaMain, Merged: true,
		Reviews: []bot.Review{{User: carol, State: bot.ReviewApproved, CommitID: shaHead, SubmittedAt: t0.Add(-time.Hour), Permission: "write"}}}
}

func goodFacts() bot.Facts {
	return bot.Facts{
		Now:            t0,
		Memberships:    []bot.Membership{{Team: deployers, Login: "alice", Member: true}},
		BranchContains: map[string]bool{"main": true},
		PR:             reviewedPR(),
		Checks:         []bot.CheckResult{{Name: "ci/test", State: bot.CheckSuccess}, {Name: "lint", State: bot.CheckNeutral}},
	}
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		name     string
		policy   func(p *bot.EnvironmentPolicy)
		request  func(r *bot.Request)
		facts    func(f *bot.Facts)
		wantCode bot.RefusalCode // "" means allowed
		wantIn   string          // part of the reason a person reads
	}{
		{name: "all checks pass"},
		{name: "merger not in deployers", request: func(r *bot.Request) { r.Trigger = bot.TriggerMerge; r.Requester = mallory },
			facts:    func(f *bot.Facts) { f.Memberships = []bot.Membership{{Team: deployers, Login: "mallory"}} },
			wantCode: bot.CodeNotDeployer, wantIn: "only members of acme/deployers may deploy here, and mallory is not an active member"},
		{name: "label added by someone outside the team", request: func(r *bot.Request) { r.Trigger = bot.TriggerLabel; r.Requester = mallory },
			facts:    func(f *bot.Facts) { f.Memberships = nil },
			wantCode: bot.CodeNotDeployer, wantIn: "mallory is not an active member"},
		{name: "no deployers team configured", policy: func(p *bot.EnvironmentPolicy) { p.Deployers = nil },
			wantCode: bot.CodeNotDeployer, wantIn: "no team is configured"},
		{name: "change without a pull request", facts: func(f *bot.Facts) { f.PR = nil },
			wantCode: bot.CodeNoReview, wantIn: "did not come through a pull request"},
		{name: "pull request not merged", facts: func(f *bot.Facts) { f.PR.Merged = false },
			wantCode: bot.CodeNoReview, wantIn: "PR #7 is not merged"},
		{name: "only the author approved", facts: func(f *bot.Facts) { f.PR.Reviews[0].User = bob },
			wantCode: bot.CodeNoReview, wantIn: "by someone other than its author bob"},
		{name: "approving review dismissed", facts: func(f *bot.Facts) { f.PR.Reviews[0].Dismissed = true },
			wantCode: bot.CodeNoReview},
		{name: "approval on an earlier commit", facts: func(f *bot.Facts) { f.PR.Reviews[0].CommitID = "0ld0ld0" },
			wantCode: bot.CodeNoReview, wantIn: "on its final commit 2222222"},
		{name: "intermediate commit of a reviewed PR", request: func(r *bot.Request) { r.SHA = shaBackdoor },
			facts: func(f *bot.Facts) {
				f.PR.Trees = map[string]string{shaHead: "tree-h", shaMain: "tree-h", shaBackdoor: "tree-b"}
			},
			wantCode: bot.CodeNoReview, wantIn: "3333333 is not a reviewed commit of PR #7: the review covers its final commit 2222222 and its merge 1111111, not the commits before; deploy 1111111 instead"},
		{name: "intermediate commit whose tree is unknown", request: func(r *bot.Request) { r.SHA = shaBackdoor },
			wantCode: bot.CodeNoReview, wantIn: "not a reviewed commit"},
		{name: "the reviewed head itself", request: func(r *bot.Request) { r.SHA = shaHead }},
		{name: "a commit with the reviewed content", request: func(r *bot.Request) { r.SHA = shaBackdoor },
			facts: func(f *bot.Facts) {
				f.PR.Trees = map[string]string{shaHead: "tree-h", shaMain: "tree-m", shaBackdoor: "tree-m"}
			}},
		{name: "approval by someone without write access", facts: func(f *bot.Facts) { f.PR.Reviews[0].Permission = "read" },
			wantCode: bot.CodeNoReview, wantIn: "(approvals by carol do not count: no write access to acme/shop)"},
		{name: "approval whose permission is unknown", facts: func(f *bot.Facts) { f.PR.Reviews[0].Permission = "" },
			wantCode: bot.CodeNoReview},
		{name: "label on the PR's head", request: func(r *bot.Request) { r.Trigger, r.SHA = bot.TriggerLabel, shaHead }},
		{name: "label for a head the PR moved on from", request: func(r *bot.Request) { r.Trigger, r.SHA = bot.TriggerLabel, shaBackdoor },
			facts:    func(f *bot.Facts) { f.PR.Trees = map[string]string{shaBackdoor: "tree-h", shaHead: "tree-h"} },
			wantCode: bot.CodeStaleSHA, wantIn: "the label asked for 3333333, but PR #7's head is now 2222222"},
		{name: "label for a commit of no pull request", request: func(r *bot.Request) { r.Trigger = bot.TriggerLabel },
			facts: func(f *bot.Facts) { f.PR = nil }, policy: func(p *bot.EnvironmentPolicy) { p.RequirePRReview = false },
			wantCode: bot.CodeStaleSHA, wantIn: "1111111 is not the head of any pull request"},
		{name: "review asked for changes", facts: func(f *bot.Facts) { f.PR.Reviews[0].State = bot.ReviewChangesRequested },
			wantCode: bot.CodeNoReview},
		{name: "review not required", policy: func(p *bot.EnvironmentPolicy) { p.RequirePRReview = false },
			facts: func(f *bot.Facts) { f.PR = nil }},
		{name: "red checks", facts: func(f *bot.Facts) { f.Checks[0].State = bot.CheckFailure },
			wantCode: bot.CodeChecksFailed, wantIn: "checks on 1111111 are not green: ci/test failure"},
		{name: "pending checks", facts: func(f *bot.Facts) { f.Checks[0].State = bot.CheckPending },
			wantCode: bot.CodeChecksFailed, wantIn: "ci/test pending"},
		{name: "no checks reported", facts: func(f *bot.Facts) { f.Checks = nil },
			wantCode: bot.CodeChecksFailed, wantIn: "no checks reported"},
		{name: "only named contexts count", policy: func(p *bot.EnvironmentPolicy) { p.RequiredContexts = []string{"ci/test"} },
			facts: func(f *bot.Facts) {
				f.Checks = append(f.Checks, bot.CheckResult{Name: "flaky", State: bot.CheckFailure})
			}},
		{name: "named context missing", policy: func(p *bot.EnvironmentPolicy) { p.RequiredContexts = []string{"ci/e2e"} },
			wantCode: bot.CodeChecksFailed, wantIn: "ci/e2e missing"},
		{name: "named context red on a re-run", policy: func(p *bot.EnvironmentPolicy) { p.RequiredContexts = []string{"ci/test"} },
			facts: func(f *bot.Facts) {
				f.Checks = append(f.Checks, bot.CheckResult{Name: "ci/test", State: bot.CheckFailure})
			}, wantCode: bot.CodeChecksFailed},
		{name: "SHA not on an allowed branch", facts: func(f *bot.Facts) { f.BranchContains = map[string]bool{"main": false} },
			wantCode: bot.CodeBranchNotAllowed, wantIn: "1111111 is not on an allowed branch (main); merge it first"},
		{name: "inside a freeze window", policy: func(p *bot.EnvironmentPolicy) {
			p.FreezeWindows = []bot.FreezeWindow{{Name: "Release freeze", Start: t0.Add(-time.Hour), End: t0.Add(time.Hour)}}
		}, wantCode: bot.CodeFrozen, wantIn: `frozen by "Release freeze" until 2025-03-14T11:00:00Z`},
		{name: "after a freeze window", policy: func(p *bot.EnvironmentPolicy) {
			p.FreezeWindows = []bot.FreezeWindow{{Name: "Release freeze", Start: t0.Add(-2 * time.Hour), End: t0}}
		}},
		{name: "locked by someone else", facts: func(f *bot.Facts) {
			f.Lock = &bot.Lock{Owner: bob, Reason: "db migration", CreatedAt: t0.Add(-time.Hour)}
		}, wantCode: bot.CodeLocked, wantIn: "production is locked by bob since 2025-03-14T09:00:00Z: db migration"},
		{name: "locked by the requester", facts: func(f *bot.Facts) {
			f.Lock = &bot.Lock{Owner: alice, Reason: "hotfix", CreatedAt: t0.Add(-time.Hour)}
		}},
		{name: "expired lock", facts: func(f *bot.Facts) {
			f.Lock = &bot.Lock{Owner: bob, Reason: "x", CreatedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(-time.Hour)}
		}},
		{name: "ticket missing", policy: func(p *bot.EnvironmentPolicy) { p.TicketPattern = regexp.MustCompile(`[A-Z]+-[0-9]+`) },
			wantCode: bot.CodeTicketMissing, wantIn: "a change ticket matching [A-Z]+-[0-9]+ is required"},
		{name: "ticket from the branch name", policy: func(p *bot.EnvironmentPolicy) { p.TicketPattern = regexp.MustCompile(`[A-Z]+-[0-9]+`) },
			facts: func(f *bot.Facts) { f.PR.HeadRef = "OPS-42-faster-checkout" }},
		{name: "emergency by a non-member", request: func(r *bot.Request) { r.Trigger = bot.TriggerEmergency; r.Reason = "site down" },
			wantCode: bot.CodeNotEmergency, wantIn: "the emergency path is only for members of acme/oncall"},
		{name: "emergency without a reason", request: func(r *bot.Request) { r.Trigger = bot.TriggerEmergency },
			facts:    func(f *bot.Facts) { f.Memberships = []bot.Membership{{Team: oncall, Login: "alice", Member: true}} },
			wantCode: bot.CodeReasonMissing},
		{name: "emergency overrides a freeze", request: func(r *bot.Request) { r.Trigger = bot.TriggerEmergency; r.Reason = "site down" },
			policy: func(p *bot.EnvironmentPolicy) {
				p.FreezeWindows = []bot.FreezeWindow{{Name: "Holidays", Start: t0.Add(-time.Hour), End: t0.Add(time.Hour)}}
			},
			facts: func(f *bot.Facts) { f.Memberships = []bot.Membership{{Team: oncall, Login: "alice", Member: true}} }},
		{name: "emergency does not override a lock", request: func(r *bot.Request) { r.Trigger = bot.TriggerEmergency; r.Reason = "site down" },
			facts: func(f *bot.Facts) {
				f.Memberships = []bot.Membership{{Team: oncall, Login: "alice", Member: true}}
				f.Lock = &bot.Lock{Owner: bob, Reason: "migration", CreatedAt: t0}
			}, wantCode: bot.CodeLocked},
		{name: "rollback skips branch, review and checks", request: func(r *bot.Request) { r.Trigger = bot.TriggerRollback },
			facts: func(f *bot.Facts) { f.PR, f.Checks, f.BranchContains = nil, nil, nil }},
		{name: "unlinked requester", request: func(r *bot.Request) { r.Requester = bot.Identity{ChatUser: "T1/U9"} },
			facts: func(f *bot.Facts) { f.Memberships = nil }, wantCode: bot.CodeNotLinked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := prodPolicy()
			if tt.policy != nil {
				tt.policy(p)
			}
			r := &bot.Request{ID: "r-test22", Repo: "acme/shop", Environment: "production", SHA: shaMain,
				Trigger: bot.TriggerSlack, Requester: alice}
			if tt.request != nil {
				tt.request(r)
			}
			f := goodFacts()
			if tt.facts != nil {
				tt.facts(&f)
			}
			r.PR = f.PR
			d := bot.Evaluate(p, r, f)
			if tt.wantCode == "" {
				if !d.Allowed {
					t.Fatalf("refused (%s): %s", d.Code, d.Reason)
				}
			} else {
				if d.Allowed || d.Code != tt.wantCode {
					t.Fatalf("got allowed=%v code %q (%s), want refusal %q", d.Allowed, d.Code, d.Reason, tt.wantCode)
				}
				if !strings.Contains(d.Reason, tt.wantIn) {
					t.Fatalf("reason %q does not say %q", d.Reason, tt.wantIn)
				}
			}
			// Every check is on record, so an auditor can replay the decision.
			for _, name := range []string{bot.CheckDeployer, bot.CheckTicket, bot.CheckBranch, bot.CheckPRReview,
				bot.CheckChecks, bot.CheckFreeze, bot.CheckLock} {
				if name == bot.CheckDeployer && r.Trigger == bot.TriggerEmergency {
					name = bot.CheckEmergency
				}
				if _, ok := d.Check(name); !ok {
					t.Errorf("decision has no %s check: %+v", name, d.Checks)
				}
			}
			if d.ConfigHash != p.Hash() || !d.At.Equal(t0) {
				t.Errorf("decision not bound to config %s at %s: %+v", p.Hash(), t0, d)
			}
		})
	}
}

func TestDecisionListsEveryFailure(t *testing.T) {
	f := goodFacts()
	f.Checks[0].State = bot.CheckFailure
	f.BranchContains["main"] = false
	r := &bot.Request{Repo: "acme/shop", Environment: "production", SHA: shaMain, Trigger: bot.TriggerSlack, Requester: alice}
	d := bot.Evaluate(prodPolicy(), r, f)
	if d.Code != bot.CodeBranchNotAllowed {
		t.Errorf("code %s, want the first failure %s", d.Code, bot.CodeBranchNotAllowed)
	}
	if !strings.Contains(d.Reason, "merge it first") || !strings.Contains(d.Reason, "ci/test failure") {
		t.Errorf("reason %q should name both failures", d.Reason)
	}
}

func TestPolicyHashChangesWithPolicy(t *testing.T) {
	a, b := prodPolicy(), prodPolicy()
	if a.Hash() != b.Hash() {
		t.Fatal("equal policies hash differently")
	}
	b.RequiredApprovals = 2
	if a.Hash() == b.Hash() {
		t.Fatal("a policy needing 2 approvals hashes like one needing 1")
	}
}
