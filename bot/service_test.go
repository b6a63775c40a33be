package bot_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

var (
	dave = bot.Identity{Login: "dave", GitHubID: 4}
	erin = bot.Identity{Login: "erin", GitHubID: 5}
)

func wantRefusal(t *testing.T, err error, code bot.RefusalCode, reason string) {
	t.Helper()
	ref, ok := bot.AsRefusal(err)
	if !ok {
		t.Fatalf("got %v, want refusal %s", err, code)
	}
	if ref.Code != code || !strings.Contains(ref.Reason, reason) {
		t.Fatalf("got refusal %s %q, want %s containing %q", ref.Code, ref.Reason, code, reason)
	}
}

func TestProductionDeployWithApproval(t *testing.T) {
	storetest.Run(t, testProductionDeployWithApproval)
}

func testProductionDeployWithApproval(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	out := w.submit(t, "slack:trigger-1", bot.NewRequest{Reason: "ship checkout"})
	r := out.Request
	if !out.Created || r.State != bot.StateAwaitingApproval || r.SHA != shaMain || r.PR == nil || r.PR.Number != 7 {
		t.Fatalf("submitted request = %+v", r)
	}
	if !r.ApprovalDeadline.Equal(t0.Add(time.Hour)) {
		t.Errorf("approval deadline %s, want one hour after the request", r.ApprovalDeadline)
	}

	refusals := []struct {
		name   string
		who    bot.Identity
		code   bot.RefusalCode
		reason string
	}{
		{"the requester", alice, bot.CodeSelfApproval, "you requested this deploy; someone else must approve it"},
		{"the PR author", bob, bot.CodeAuthorApproval, "you wrote PR #7; someone else must approve its deploy"},
		{"someone outside the approvers", erin, bot.CodeNotApprover, "only members of acme/approvers may approve"},
	}
	for _, tt := range refusals {
		_, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: r.ID, Approver: tt.who})
		wantRefusal(t, err, tt.code, tt.reason)
	}
	if _, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: r.ID, Approver: carol, Nonce: "forged", RequireNonce: true}); err == nil {
		t.Fatal("a button with a forged nonce was accepted")
	}
	w.clock.Advance(10 * time.Minute)
	approved, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: r.ID, Approver: carol, Nonce: r.ApprovalNonce, RequireNonce: true})
	if err != nil {
		t.Fatalf("carol's approval: %v", err)
	}
	if approved.State != bot.StateQueued || len(approved.Approvals) != 1 || approved.Approvals[0].Approver.Login != "carol" {
		t.Fatalf("after approval: %s with %+v", approved.State, approved.Approvals)
	}
	if n, err := w.svc.ProcessQueue(ctx); err != nil || n != 1 {
		t.Fatalf("ProcessQueue = %d, %v", n, err)
	}
	if got := joined(w.deployer.Calls()); got != "deploy acme/shop production 1111111" {
		t.Fatalf("deploys:\n%s", got)
	}
	done, err := w.svc.Request(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != bot.StateSucceeded || done.Result == nil || done.Result.ManifestDigest != "sha256:abc" {
		t.Fatalf("final request: %s %+v", done.State, done.Result)
	}
	wantActions := []string{
		"request.created", "policy.decided", "request.state",
		"approval.refused", "approval.refused", "approval.refused", "approval.refused",
		"approval.granted", "request.state",
		"deploy.started", "request.state",
		"deploy.finished", "request.state",
	}
	if got := w.auditActions(t, r.ID); !slices.Equal(got, wantActions) {
		t.Fatalf("audit trail:\n%s\nwant:\n%s", joined(got), joined(wantActions))
	}
	decided := w.auditData(t, r.ID, "policy.decided")[0]
	for _, want := range []string{`"allowed":true`, `acme/deployers`, `PR #7 by bob approved by carol`, `"name":"checks"`} {
		if !strings.Contains(decided, want) {
			t.Errorf("policy.decided lacks %s: %s", want, decided)
		}
	}
	finished := w.auditData(t, r.ID, "deploy.finished")[0]
	for _, want := range []string{`"manifest_digest":"sha256:abc"`, `"servers":["web1","web2"]`, `"files_sent":3`} {
		if !strings.Contains(finished, want) {
			t.Errorf("deploy.finished lacks %s: %s", want, finished)
		}
	}
	wantNotes := []string{
		"approval_needed " + r.ID + " awaiting_approval",
		"approval_granted " + r.ID + " queued",
		"state_changed " + r.ID + " queued",
		"state_changed " + r.ID + " running",
		"finished " + r.ID + " succeeded",
	}
	if got := w.notes.Calls(); !slices.Equal(got, wantNotes) {
		t.Fatalf("notifications:\n%s", joined(got))
	}
}

func TestApprovalRefusedOnChangedFacts(t *testing.T) {
	storetest.Run(t, testApprovalRefusedOnChangedFacts)
}

func testApprovalRefusedOnChangedFacts(t *testing.T) {
	tests := []struct {
		name   string
		change func(w *world)
		code   bot.RefusalCode
		reason string
	}{
		{"after a new commit on the ref", func(w *world) { w.changes.push("main", "3333333333333333333333333333333333333333") },
			bot.CodeStaleSHA, "main moved from 1111111 to 3333333 since this request"},
		{"after expiry", func(w *world) { w.clock.Advance(61 * time.Minute) },
			bot.CodeApprovalExpired, "expired at 2025-03-14T11:00:00Z"},
		{"after the approver left the team", func(w *world) { w.dir.set("acme/approvers", "carol", false) },
			bot.CodeNotApprover, "carol is not an active member"},
		{"after the policy changed", func(w *world) { w.policies["acme/shop"]["production"].RequiredApprovals = 2 },
			bot.CodeConfigChanged, "the policy for production changed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t)
			r := w.submit(t, "k1", bot.NewRequest{}).Request
			tt.change(w)
			_, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: r.ID, Approver: carol})
			wantRefusal(t, err, tt.code, tt.reason)
			again, _ := w.svc.Request(ctx, r.ID)
			if again.State != bot.StateAwaitingApproval || len(again.Approvals) != 0 {
				t.Fatalf("a refused approval changed the request: %s %+v", again.State, again.Approvals)
			}
			if got := w.auditData(t, r.ID, "approval.refused"); len(got) != 1 || !strings.Contains(got[0], string(tt.code)) {
				t.Fatalf("refusal not audited: %v", got)
			}
			if n, _ := w.svc.ProcessQueue(ctx); n != 0 || len(w.deployer.Calls()) != 0 {
				t.Fatal("a deploy ran without a valid approval")
			}
		})
	}
}

func TestDefaultRefIsTheFirstAllowedBranch(t *testing.T) {
	storetest.Run(t, testDefaultRefIsTheFirstAllowedBranch)
}

func testDefaultRefIsTheFirstAllowedBranch(t *testing.T) {
	tests := []struct {
		name     string
		branches []string
		wantRef  string // "" expects a refusal asking what to deploy
	}{
		{"a branch name", []string{"main"}, "main"},
		{"patterns before a name are skipped", []string{"release/*", "*", "main"}, "main"},
		{"only patterns name no branch", []string{"release/*", "*"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			staging := &bot.EnvironmentPolicy{Repo: "acme/shop", Environment: "staging",
				Deployers: []bot.Team{deployers}, Approvers: []bot.Team{approvers}, Branches: tt.branches}
			w.policies = bot.NewPolicySet(prodPolicy(), staging)
			w.svc = w.newService(t)
			out, err := w.svc.Submit(context.Background(), bot.NewRequest{SourceKey: "k", Repo: "acme/shop",
				Environment: "staging", Trigger: bot.TriggerSlack, Requester: alice})
			if tt.wantRef == "" {
				wantRefusal(t, err, bot.CodeUnknownRef, "say what to deploy")
				return
			}
			if err != nil || out.Request.Ref != tt.wantRef || out.Request.SHA != shaMain {
				t.Fatalf("request %s@%s, %v; want %s@%s", out.Request.Ref, out.Request.SHA, err, tt.wantRef, shaMain)
			}
		})
	}
}

func TestExpireStale(t *testing.T) { storetest.Run(t, testExpireStale) }

func testExpireStale(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	r := w.submit(t, "k1", bot.NewRequest{}).Request
	if n, err := w.svc.ExpireStale(ctx); err != nil || n != 0 {
		t.Fatalf("expired %d, %v before the deadline", n, err)
	}
	w.clock.Advance(time.Hour)
	if n, err := w.svc.ExpireStale(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireStale = %d, %v", n, err)
	}
	got, _ := w.svc.Request(ctx, r.ID)
	if got.State != bot.StateExpired {
		t.Fatalf("state %s, want expired", got.State)
	}
	// A late click gets the same answer whether or not the sweep ran first.
	_, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: r.ID, Approver: carol})
	wantRefusal(t, err, bot.CodeApprovalExpired, "expired at 2025-03-14T11:00:00Z")
}

func TestPolicyDenialIsStoredAndNothingDeploys(t *testing.T) {
	storetest.Run(t, testPolicyDenialIsStoredAndNothingDeploys)
}

func testPolicyDenialIsStoredAndNothingDeploys(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.changes.checks[shaMain] = []bot.CheckResult{{Name: "ci/test", State: bot.CheckFailure}}
	out, err := w.svc.Submit(ctx, bot.NewRequest{SourceKey: "delivery-9", Repo: "acme/shop", Environment: "production",
		Ref: "main", Trigger: bot.TriggerMerge, Requester: alice})
	wantRefusal(t, err, bot.CodeChecksFailed, "ci/test failure")
	if out.Request.State != bot.StateRejected || out.Decision.Allowed {
		t.Fatalf("denied request stored as %s", out.Request.State)
	}
	if n, _ := w.svc.ProcessQueue(ctx); n != 0 || len(w.deployer.Calls()) != 0 {
		t.Fatal("a denied request deployed")
	}
	if got := w.notes.Calls(); !slices.Equal(got, []string{"refused " + out.Request.ID + " rejected"}) {
		t.Fatalf("notifications: %v", got)
	}
}

func TestUnknownEnvironmentCreatesNothing(t *testing.T) {
	storetest.Run(t, testUnknownEnvironmentCreatesNothing)
}

func testUnknownEnvironmentCreatesNothing(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	_, err := w.svc.Submit(ctx, bot.NewRequest{SourceKey: "k", Repo: "acme/shop", Environment: "prod",
		Ref: "main", Trigger: bot.TriggerSlack, Requester: alice})
	wantRefusal(t, err, bot.CodeUnknownEnv, `acme/shop has no environment "prod"; it has: production, staging`)
	_, err = w.svc.Submit(ctx, bot.NewRequest{SourceKey: "k2", Repo: "acme/shop", Environment: "production",
		Ref: "no-such-branch", Trigger: bot.TriggerSlack, Requester: alice})
	wantRefusal(t, err, bot.CodeUnknownRef, `acme/shop has no branch, tag or commit "no-such-branch"`)
	if rs, _ := w.svc.History(ctx, "acme/shop", "", 10); len(rs) != 0 {
		t.Fatalf("refused commands created %d requests", len(rs))
	}
	if got := w.auditActions(t, "acme/shop prod"); !slices.Equal(got, []string{"action.refused"}) {
		t.Fatalf("refusal not audited: %v", got)
	}
}

func TestDuplicateSubmitAndDoubleClickDeployOnce(t *testing.T) {
	storetest.Run(t, testDuplicateSubmitAndDoubleClickDeployOnce)
}

func testDuplicateSubmitAndDoubleClickDeployOnce(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	first := w.submit(t, "delivery-1", bot.NewRequest{})
	again := w.submit(t, "delivery-1", bot.NewRequest{})
	if again.Created || again.Request.ID != first.Request.ID {
		t.Fatalf("a redelivered webhook created request %s (first %s)", again.Request.ID, first.Request.ID)
	}
	// Two approvers click at the same time, each twice.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var granted, refused int
	for _, who := range []bot.Identity{carol, dave, carol, dave} {
		wg.Go(func() {
			_, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: first.Request.ID, Approver: who})
			mu.Lock()
			defer mu.Unlock()
			if _, ok := bot.AsRefusal(err); ok {
				refused++
			} else if err != nil {
				t.Errorf("approve: %v", err)
			} else {
				granted++
			}
		})
	}
	wg.Wait()
	if granted != 1 || refused != 3 {
		t.Fatalf("granted %d, refused %d; want exactly one approval to count", granted, refused)
	}
	for range 3 {
		if _, err := w.svc.ProcessQueue(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := w.deployer.Calls(); len(got) != 1 {
		t.Fatalf("deploys: %v", got)
	}
	rs, _ := w.svc.History(ctx, "acme/shop", "production", 10)
	if len(rs) != 1 {
		t.Fatalf("%d requests, want 1", len(rs))
	}
}

func TestOneDeployPerEnvironmentAtATime(t *testing.T) {
	storetest.Run(t, testOneDeployPerEnvironmentAtATime)
}

func testOneDeployPerEnvironmentAtATime(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWorld(t)
	w.deployer.hold = make(chan struct{})
	w.deployer.started = make(chan string, 10)
	var ids []string
	for _, key := range []string{"a", "b", "c"} {
		ids = append(ids, w.submit(t, key, bot.NewRequest{Environment: "staging"}).Request.ID)
		w.clock.Advance(time.Second)
	}
	other := w.submit(t, "d", bot.NewRequest{}).Request // production, needs approval
	if _, err := w.svc.Approve(ctx, bot.ApproveInput{RequestID: other.ID, Approver: carol}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { w.svc.RunWorkers(ctx, ctx, 3, 10*time.Millisecond); close(done) }()

	// Staging's first request and production's run side by side; staging's
	// others wait, and start in the order they were queued.
	var order []string
	next := func() string {
		select {
		case id := <-w.deployer.started:
			if id != other.ID {
				order = append(order, id)
			}
			return id
		case <-time.After(30 * time.Second):
			t.Fatalf("deploys so far: %v", w.deployer.Calls())
			return ""
		}
	}
	if a, b := next(), next(); !slices.Contains([]string{a, b}, other.ID) || !slices.Contains([]string{a, b}, ids[0]) {
		t.Fatalf("first two deploys %s, %s; want staging's first (%s) and production (%s) together", a, b, ids[0], other.ID)
	}
	for range 4 { // each deploy waits for one release
		w.deployer.hold <- struct{}{}
	}
	next()
	next()
	waitFor(t, func() bool {
		rs, _ := w.svc.Active(ctx, "acme/shop", "")
		return len(rs) == 0
	})
	cancel()
	<-done
	if !slices.Equal(order, ids) {
		t.Errorf("staging deploys ran in order %v, want FIFO %v", order, ids)
	}
	w.deployer.mu.Lock()
	defer w.deployer.mu.Unlock()
	if w.deployer.maxRun["acme/shop staging"] != 1 {
		t.Errorf("%d staging deploys ran at once", w.deployer.maxRun["acme/shop staging"])
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDeployResults(t *testing.T) { storetest.Run(t, testDeployResults) }

func testDeployResults(t *testing.T) {
	tests := []struct {
		name       string
		outcome    bot.DeployOutcome
		err        error
		want       bot.State
		wantAction string
	}{
		{"deployer error", bot.DeployOutcome{}, errors.New("ssh: handshake failed"), bot.StateFailed, "deploy.finished"},
		{"health check failed, switched back", bot.DeployOutcome{Result: bot.ResultRolledBack, Error: "health check 502"},
			nil, bot.StateRolledBack, "deploy.rolled_back"},
		{"failed before the switch", bot.DeployOutcome{Result: bot.ResultFailed, Error: "upload failed"}, nil, bot.StateFailed, "deploy.finished"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t)
			w.deployer.outcome, w.deployer.err = tt.outcome, tt.err
			r := w.submit(t, "k", bot.NewRequest{Environment: "staging"}).Request
			if _, err := w.svc.ProcessQueue(ctx); err != nil {
				t.Fatal(err)
			}
			got, _ := w.svc.Request(ctx, r.ID)
			if got.State != tt.want {
				t.Fatalf("state %s, want %s", got.State, tt.want)
			}
			if acts := w.auditActions(t, r.ID); !slices.Contains(acts, tt.wantAction) {
				t.Fatalf("audit lacks %s: %v", tt.wantAction, acts)
			}
		})
	}
}

func TestRecoverInterrupted(t *testing.T) { storetest.Run(t, testRecoverInterrupted) }

func testRecoverInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w := newWorld(t)
	w.deployer.hold = make(chan struct{})
	w.deployer.started = make(chan string, 1)
	r := w.submit(t, "k", bot.NewRequest{Environment: "staging"}).Request
	go w.svc.ProcessNext(ctx) // the "crashed" process; its result does not matter
	<-w.deployer.started

	restarted := w.newService(t) // a new process on the same database
	if n, err := restarted.RecoverInterrupted(ctx); err != nil || n != 1 {
		t.Fatalf("RecoverInterrupted = %d, %v", n, err)
	}
	got, _ := restarted.Request(ctx, r.ID)
	if got.State != bot.StateInterrupted {
		t.Fatalf("state %s, want interrupted", got.State)
	}
	if acts := w.auditActions(t, r.ID); !slices.Contains(acts, "deploy.interrupted") {
		t.Fatalf("audit lacks deploy.interrupted: %v", acts)
	}
}

func TestNotifierFailureKeepsTheStateChange(t *testing.T) {
	storetest.Run(t, testNotifierFailureKeepsTheStateChange)
}

func testNotifierFailureKeepsTheStateChange(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.notes.fail = true
	r := w.submit(t, "k", bot.NewRequest{Environment: "staging"}).Request
	if _, err := w.svc.ProcessQueue(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := w.svc.Request(ctx, r.ID)
	if got.State != bot.StateSucceeded {
		t.Fatalf("state %s, want succeeded despite a failing notifier", got.State)
	}
}
