package github

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

// recordingBot is the bot side the Reporter writes to: it keeps what was
// recorded per request, as the store would, and can be made to fail.
type recordingBot struct {
	mu          sync.Mutex
	deployments map[string]int64
	refs        map[string]map[string]string
	failRecord  bool
}

func newRecordingBot() *recordingBot {
	return &recordingBot{deployments: map[string]int64{}, refs: map[string]map[string]string{}}
}

func (b *recordingBot) SetGitHubDeployment(_ context.Context, id string, deploymentID int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failRecord {
		return errors.New("store unavailable")
	}
	b.deployments[id] = deploymentID
	return nil
}

func (b *recordingBot) SetExternalRef(_ context.Context, id, key, value string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failRecord {
		return errors.New("store unavailable")
	}
	if b.refs[id] == nil {
		b.refs[id] = map[string]string{}
	}
	b.refs[id][key] = value
	return nil
}

// apply returns r as the store would hold it now: with what was recorded.
func (b *recordingBot) apply(r bot.Request) bot.Request {
	b.mu.Lock()
	defer b.mu.Unlock()
	if id := b.deployments[r.ID]; id != 0 {
		r.GitHubDeploymentID = id
	}
	if refs := b.refs[r.ID]; refs != nil {
		r.ExternalRefs = map[string]string{}
		for k, v := range refs {
			r.ExternalRefs[k] = v
		}
	}
	return r
}

type fixedAudit struct{ entry AuditEntry }

func (a fixedAudit) AuditFacts(context.Context, string) (AuditEntry, error) { return a.entry, nil }

type reporterWorld struct {
	*outWorld
	bot      *recordingBot
	reporter *Reporter
	pr       int
}

func newReporterWorld(t *testing.T) *reporterWorld {
	t.Helper()
	w := &reporterWorld{outWorld: newOutWorld(t), bot: newRecordingBot()}
	w.pr = w.gh.AddPullRequest("acme/web", githubtest.PullRequest{Number: 12, Author: "alice", HeadRef: "cache", HeadSHA: outSHA("feat"), Labels: []string{"deploy:staging", "bug"}})
	w.gh.MergePullRequest("acme/web", w.pr, outSHA("merge"), "erin")
	w.reporter = w.newReporter(t)
	return w
}

func (w *reporterWorld) newReporter(t *testing.T) *Reporter {
	t.Helper()
	rp, err := NewReporter(ReporterConfig{App: w.app, Recorder: w.bot, Audit: fixedAudit{*goldenAudit},
		PublicURL: "https://tollgate.example.test/",
		Environment: func(repo, env string) EnvironmentInfo {
			return EnvironmentInfo{URL: "https://" + env + ".acme.test", Production: env == "production"}
		}})
	if err != nil {
		t.Fatal(err)
	}
	return rp
}

func (w *reporterWorld) notify(t *testing.T, kind bot.NotificationKind, r bot.Request) {
	t.Helper()
	if err := w.reporter.Notify(outCtx(t), bot.Notification{Kind: kind, Request: r}); err != nil {
		t.Fatalf("Notify(%s, %s): %v", kind, r.State, err)
	}
}

// at returns a copy of r in state s.
func at(r bot.Request, s bot.State) bot.Request {
	r.State = s
	return r
}

func TestReporterMirrorsADeployOnGitHub(t *testing.T) {
	w := newReporterWorld(t)
	r := goldenRequest()
	r.Environment = "staging"
	queued := at(r, bot.StateQueued)
	queued.Result, queued.FinishedAt = nil, time.Time{}

	w.notify(t, bot.NotifyStateChanged, queued)
	w.notify(t, bot.NotifyStateChanged, queued) // redelivered, with the stale snapshot
	running := w.bot.apply(at(queued, bot.StateRunning))
	w.notify(t, bot.NotifyStateChanged, running)
	w.notify(t, bot.NotifyFinished, w.bot.apply(r))

	ds := w.gh.Deployments("acme/web")
	if len(ds) != 1 {
		t.Fatalf("deployments = %d, want 1", len(ds))
	}
	d := ds[0]
	if d.SHA != r.SHA || d.Ref != r.SHA || d.Environment != "staging" || d.Production || d.Transient || !d.ViaApp {
		t.Errorf("deployment = %+v", d)
	}
	var payload map[string]any
	if err := json.Unmarshal(d.Payload, &payload); err != nil || payload["tollgate_request_id"] != r.ID {
		t.Errorf("payload = %s, want the request id", d.Payload)
	}
	create := w.gh.CallsMatching("POST", "/repos/acme/web/deployments")[0]
	var body map[string]json.RawMessage
	_ = json.Unmarshal(create.Body, &body)
	if string(body["required_contexts"]) != "[]" || string(body["auto_merge"]) != "false" {
		t.Errorf("create body required_contexts=%s auto_merge=%s, want [] and false (sent explicitly)", body["required_contexts"], body["auto_merge"])
	}
	if got := w.bot.deployments[r.ID]; got != d.ID {
		t.Errorf("recorded deployment id = %d, want %d", got, d.ID)
	}
	var states []string
	for _, st := range d.Statuses {
		states = append(states, st.State)
		if st.LogURL != "https://tollgate.example.test/deployments/"+r.ID || st.EnvironmentURL != "https://staging.acme.test" {
			t.Errorf("status %s: log_url %q environment_url %q", st.State, st.LogURL, st.EnvironmentURL)
		}
	}
	if want := []string{"queued", "in_progress", "success"}; !slices.Equal(states, want) {
		t.Errorf("statuses = %v, want %v", states, want)
	}
	if last := d.Statuses[len(d.Statuses)-1].Description; !strings.Contains(last, "audit #42, checkpoint 48@1a2b3c4d") {
		t.Errorf("final status description %q lacks the audit entry and checkpoint", last)
	}

	cs := w.gh.IssueComments("acme/web", w.pr)
	if len(cs) != 1 {
		t.Fatalf("PR comments = %d, want 1", len(cs))
	}
	if want := renderComment(r, "https://tollgate.example.test/deployments/"+r.ID, goldenAudit); cs[0].Body != want {
		t.Errorf("comment body:\n%s\nwant:\n%s", cs[0].Body, want)
	}
	if w.bot.refs[r.ID][RefComment] != strconv.FormatInt(cs[0].ID, 10) {
		t.Errorf("recorded comment ref = %q, want %d", w.bot.refs[r.ID][RefComment], cs[0].ID)
	}
	if labels := w.gh.Labels("acme/web", w.pr); !slices.Contains(labels, "deploy:staging") {
		t.Errorf("labels = %v: a merge-triggered request must leave labels alone", labels)
	}
	if u := w.gh.UnexpectedCalls(); len(u) > 0 {
		t.Errorf("unexpected calls: %+v", u)
	}
}

func TestReporterUpdatesTheCommentInsteadOfAddingOne(t *testing.T) {
	w := newReporterWorld(t)
	r := goldenRequest()
	waiting := at(r, bot.StateAwaitingApproval)
	waiting.Result, waiting.FinishedAt, waiting.QueuedAt = nil, time.Time{}, time.Time{}
	w.notify(t, bot.NotifyApprovalNeeded, waiting)
	w.notify(t, bot.NotifyApprovalGranted, w.bot.apply(waiting))
	w.notify(t, bot.NotifyFinished, w.bot.apply(r))
	w.notify(t, bot.NotifyEmergencyReview, w.bot.apply(r))

	// A restarted Tollgate that lost the comment id finds its comment by marker.
	w.bot.mu.Lock()
	delete(w.bot.refs, r.ID)
	w.bot.mu.Unlock()
	w.reporter = w.newReporter(t)
	w.notify(t, bot.NotifyFinished, r)

	cs := w.gh.IssueComments("acme/web", w.pr)
	if len(cs) != 1 {
		t.Fatalf("PR comments = %d, want 1 (updated in place)", len(cs))
	}
	if cs[0].Edits != 4 || !strings.Contains(cs[0].Body, "✅ Deployed") {
		t.Errorf("comment edits = %d (want 4), body:\n%s", cs[0].Edits, cs[0].Body)
	}
}

func TestReporterDeploymentCreatedOnceAcrossRestart(t *testing.T) {
	w := newReporterWorld(t)
	r := at(goldenRequest(), bot.StateQueued)
	r.PR = nil
	w.bot.failRecord = true // created, but the id never reached the store
	if err := w.reporter.Notify(outCtx(t), bot.Notification{Kind: bot.NotifyStateChanged, Request: r}); err == nil {
		t.Fatal("Notify with a failing store returned no error")
	}
	w.bot.failRecord = false
	w.reporter = w.newReporter(t) // restart: memory gone
	w.notify(t, bot.NotifyStateChanged, at(r, bot.StateRunning))
	ds := w.gh.Deployments("acme/web")
	if len(ds) != 1 {
		t.Fatalf("deployments = %d, want 1 (found again by its payload)", len(ds))
	}
	if got := w.gh.DeploymentStatuses("acme/web", ds[0].ID); !slices.Equal(got, []string{"queued", "in_progress"}) {
		t.Errorf("statuses = %v", got)
	}
	if !ds[0].Production {
		t.Error("production environment not marked production_environment")
	}
}

func TestReporterRefusalOfALabelRequest(t *testing.T) {
	w := newReporterWorld(t)
	r := goldenRequest()
	r.Trigger, r.Environment, r.SHA, r.Ref = bot.TriggerLabel, "staging", outSHA("feat"), "cache"
	r.State, r.Result, r.FinishedAt, r.QueuedAt, r.Approvals = bot.StateRejected, nil, time.Time{}, time.Time{}, nil
	r.Decision = &bot.Decision{Code: bot.CodeNoReview, Reason: "PR #12 has no approving review on its final commit"}
	w.notify(t, bot.NotifyRefused, r)
	w.notify(t, bot.NotifyRefused, w.bot.apply(r))

	if ds := w.gh.Deployments("acme/web"); len(ds) != 0 {
		t.Errorf("deployments = %d, want none for a refused request", len(ds))
	}
	cs := w.gh.IssueComments("acme/web", w.pr)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "**Why:** PR #12 has no approving review") ||
		!strings.Contains(cs[0].Body, "get an approving review on the PR's final commit from someone other than its author") {
		t.Fatalf("comments = %+v", cs)
	}
	if labels := w.gh.Labels("acme/web", w.pr); !slices.Equal(labels, []string{"bug"}) {
		t.Errorf("labels = %v, want the deploy label removed and the rest kept", labels)
	}
}

func TestReporterPostsOnADeploymentCreatedElsewhere(t *testing.T) {
	w := newReporterWorld(t)
	depID, err := w.gh.CreateDeployment("acme/web", "main", "production", "octocat")
	if err != nil {
		t.Fatal(err)
	}
	r := goldenRequest()
	r.Trigger, r.GitHubDeploymentID, r.PR = bot.TriggerGitHubDeployment, depID, nil
	r.State, r.StateReason = bot.StateRolledBack, "previous release restored after: health check failed"
	r.Result.Result = bot.ResultRolledBack
	waiting := at(r, bot.StateAwaitingApproval)
	w.notify(t, bot.NotifyApprovalNeeded, waiting)
	w.notify(t, bot.NotifyStateChanged, at(r, bot.StateQueued))
	w.notify(t, bot.NotifyStateChanged, at(r, bot.StateRunning))
	w.notify(t, bot.NotifyFinished, r)

	ds := w.gh.Deployments("acme/web")
	if len(ds) != 1 {
		t.Fatalf("deployments = %d, want only the one created elsewhere", len(ds))
	}
	var got []string
	for _, st := range ds[0].Statuses {
		got = append(got, st.State)
	}
	if want := []string{"pending", "queued", "in_progress", "failure"}; !slices.Equal(got, want) {
		t.Errorf("statuses = %v, want %v", got, want)
	}
	if last := ds[0].Statuses[len(ds[0].Statuses)-1].Description; !strings.Contains(last, "rolled back") {
		t.Errorf("final description %q does not say rolled back", last)
	}
}

func TestReporterInterruptedIsAnError(t *testing.T) {
	w := newReporterWorld(t)
	r := goldenRequest()
	r.PR, r.State, r.StateReason = nil, bot.StateInterrupted, "the process stopped while the deploy ran"
	w.notify(t, bot.NotifyStateChanged, at(r, bot.StateRunning))
	w.notify(t, bot.NotifyFinished, r)
	ds := w.gh.Deployments("acme/web")
	// The queued status it never got is filled in before in_progress.
	if len(ds) != 1 || !slices.Equal(w.gh.DeploymentStatuses("acme/web", ds[0].ID), []string{"queued", "in_progress", "error"}) {
		t.Fatalf("deployments = %+v", ds)
	}
}

func TestProtectionRuleAnswers(t *testing.T) {
	w := newReporterWorld(t)
	gate := NewProtectionRuleGate(w.app, "https://tollgate.example.test")
	run := &bot.ProtectionRuleRun{RunID: 4242, EnvironmentName: "production"}
	out, err := gate.Deploy(outCtx(t), bot.DeployJob{RequestID: "r-ok", Repo: "acme/web", Environment: "production",
		SHA: outSHA("merge"), Trigger: bot.TriggerProtectionRule, ProtectionRule: run})
	if err != nil || out.Result != bot.ResultSucceeded {
		t.Fatalf("gate.Deploy = %+v, %v", out, err)
	}
	if _, err := gate.Deploy(outCtx(t), bot.DeployJob{RequestID: "r-lost", Repo: "acme/elsewhere", Environment: "production",
		SHA: outSHA("merge"), Trigger: bot.TriggerProtectionRule, ProtectionRule: run}); err == nil || !strings.Contains(err.Error(), "run 4242") {
		t.Errorf("an approval GitHub refused must be an error naming the run, got %v", err)
	}
	if _, err := gate.Deploy(outCtx(t), bot.DeployJob{RequestID: "r-slack", Repo: "acme/web", Environment: "production",
		SHA: outSHA("merge"), Trigger: bot.TriggerSlack}); err == nil {
		t.Error("a job without a protection-rule run to approve must fail: Actions deploys this environment")
	}
	if _, err := gate.Rollback(outCtx(t), bot.DeployJob{RequestID: "r-ok"}); err == nil {
		t.Error("gate.Rollback succeeded; an Actions deployment cannot be rolled back here")
	}

	refused := bot.Request{ID: "r-no", Repo: "acme/web", Environment: "production", SHA: outSHA("merge"),
		Trigger: bot.TriggerProtectionRule, ProtectionRule: run, State: bot.StateRejected,
		Decision: &bot.Decision{Code: bot.CodeChecksFailed, Reason: "checks on abc1234 are not green: test failure"}}
	w.notify(t, bot.NotifyRefused, refused)
	w.notify(t, bot.NotifyRefused, refused) // redelivered: answered once
	expired := refused
	expired.ID, expired.State, expired.Decision, expired.StateReason = "r-late", bot.StateExpired, nil, "not approved in time"
	w.notify(t, bot.NotifyStateChanged, expired)
	succeeded := refused
	succeeded.ID, succeeded.State, succeeded.Decision = "r-fine", bot.StateSucceeded, nil
	w.notify(t, bot.NotifyFinished, succeeded)

	cbs := w.gh.ProtectionRuleCallbacks()
	if len(cbs) != 3 {
		t.Fatalf("callbacks = %+v, want 3 (approve, reject refused, reject expired)", cbs)
	}
	want := []struct{ state, comment string }{
		{"approved", "Approved by Tollgate request r-ok: policy checks and approvals passed for "},
		{"rejected", "checks on abc1234 are not green"},
		{"rejected", "not approved in time"},
	}
	for i, cb := range cbs {
		if cb.RunID != 4242 || cb.Environment != "production" || cb.State != want[i].state || !strings.Contains(cb.Comment, want[i].comment) {
			t.Errorf("callback %d = %+v, want %s with %q", i, cb, want[i].state, want[i].comment)
		}
	}
	if ds := w.gh.Deployments("acme/web"); len(ds) != 0 {
		t.Errorf("deployments = %d: Actions creates its own, Tollgate must not", len(ds))
	}
	if w.bot.refs["r-no"][RefProtectionAnswer] != "rejected" {
		t.Errorf("answer not recorded: %v", w.bot.refs["r-no"])
	}
}

// A deploy that failed without a rollback is over: the label goes and the
// comment cites the audit entry.
func TestReporterFailedLabelRequestEnds(t *testing.T) {
	w := newReporterWorld(t)
	r := goldenRequest()
	r.Trigger, r.Environment = bot.TriggerLabel, "staging"
	r.State, r.StateReason = bot.StateFailed, "upload to web1.internal: connection refused"
	r.Result.Result, r.Result.Error = bot.ResultFailed, "upload to web1.internal: connection refused"
	w.notify(t, bot.NotifyFinished, r)
	if labels := w.gh.Labels("acme/web", w.pr); slices.Contains(labels, "deploy:staging") {
		t.Errorf("labels = %v, want deploy:staging removed", labels)
	}
	cs := w.gh.IssueComments("acme/web", w.pr)
	if len(cs) != 1 || !strings.Contains(cs[0].Body, "**Audit entry** #42") || !strings.Contains(cs[0].Body, "❌ Deploy of") {
		t.Fatalf("comments = %+v", cs)
	}
	ds := w.gh.Deployments("acme/web")
	// Only the end was reported; the steps a finished deploy went through come first.
	if len(ds) != 1 || !slices.Equal(w.gh.DeploymentStatuses("acme/web", ds[0].ID), []string{"queued", "in_progress", "failure"}) {
		t.Errorf("deployments = %+v", ds)
	}
}

// Replicas share the database, not their memory: replica A posts queued,
// B posts in_progress, and the final notification reaches A again. A must
// read what the deployment shows rather than trust its memory, or it posts
// in_progress a second time.
func TestReporterReplicasDoNotRepeatStatuses(t *testing.T) {
	w := newReporterWorld(t)
	r := goldenRequest()
	r.Environment = "staging"
	queued := at(r, bot.StateQueued)
	queued.Result, queued.FinishedAt = nil, time.Time{}
	a := w.reporter
	b := w.newReporter(t)

	w.reporter = a
	w.notify(t, bot.NotifyStateChanged, queued)
	w.reporter = b
	w.notify(t, bot.NotifyStateChanged, w.bot.apply(at(queued, bot.StateRunning)))
	w.reporter = a
	w.notify(t, bot.NotifyFinished, w.bot.apply(r))

	ds := w.gh.Deployments("acme/web")
	if len(ds) != 1 {
		t.Fatalf("deployments = %d, want 1", len(ds))
	}
	if got := w.gh.DeploymentStatuses("acme/web", ds[0].ID); !slices.Equal(got, []string{"queued", "in_progress", "success"}) {
		t.Errorf("statuses = %v, want each once", got)
	}
}
