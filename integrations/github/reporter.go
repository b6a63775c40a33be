package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	gh "github.com/google/go-github/v60/github"
	"github.com/tollgate-dev/tollgate/bot"
)

// External-ref keys the Reporter records on requests.
const (
	RefComment          = "github_comment"           // id of the request's PR comment
	RefProtectionAnswer = "github_protection_answer" // "rejected" once a waiting run was answered
)

// RequestRecorder records GitHub bookkeeping on a request; *bot.Service
// implements it.
type RequestRecorder interface {
	SetGitHubDeployment(ctx context.Context, id string, deploymentID int64) error
	SetExternalRef(ctx context.Context, id, key, value string) error
}

// AuditFacts gives the audit entry that recorded a request's latest step
// and the checkpoint covering it; the wiring implements it over store/audit.
type AuditFacts interface {
	AuditFacts(ctx context.Context, requestID string) (AuditEntry, error)
}

// EnvironmentInfo is what the Reporter needs to know about one
// repository's environment, from the server configuration.
type EnvironmentInfo struct {
	URL        string // environment_url of deployment statuses
	Production bool   // production_environment
	Transient  bool   // transient_environment (per-PR environments)
	Label      string // label that deploys to it; "" means "deploy:<env>"
}

// ReporterConfig configures a Reporter. App, Recorder and PublicURL are
// required.
type ReporterConfig struct {
	App      *App
	Recorder RequestRecorder
	Audit    AuditFacts          // nil: comments and statuses omit the audit entry
	Gate     *ProtectionRuleGate // nil: one over App
	// PublicURL is Tollgate's public base URL; log_url is
	// PublicURL/deployments/<request id>.
	PublicURL string
	// Environment describes repo's env; nil means every field empty.
	Environment func(repo, env string) EnvironmentInfo
	// PullRequest gives the PR number a request reports on; nil means
	// the request's PR (r.PR.Number), 0 for none.
	PullRequest func(r bot.Request) int
	Logger      *slog.Logger
}

// Reporter implements bot.Notifier for GitHub: each request that deploys
// is mirrored by a GitHub Deployment with its statuses; each request on a
// pull request has one PR comment, created once and then edited; labels
// that triggered a request are removed when it ends; protection-rule runs
// are rejected when their request is refused or ends without approval.
type Reporter struct {
	cfg   ReporterConfig
	gate  *ProtectionRuleGate
	log   *slog.Logger
	locks [64]sync.Mutex // per request (hashed): one notification at a time

	mu          sync.Mutex
	deployments map[string]int64 // request → deployment id, until the request carries it
	comments    map[string]int64 // request → comment id, until the request carries it
	shown       map[string]int   // request → lifecycle rank of the last deployment status posted
	versions    map[string]int64 // request → newest Request.Version reported
	answered    map[string]bool  // request → protection-rule run answered
}

// NewReporter returns a Reporter, or an error naming what is missing.
func NewReporter(cfg ReporterConfig) (*Reporter, error) {
	switch {
	case cfg.App == nil:
		return nil, errors.New("github reporter: App is required")
	case cfg.Recorder == nil:
		return nil, errors.New("github reporter: Recorder is required")
	case cfg.PublicURL == "":
		return nil, errors.New("github reporter: PublicURL is required (log_url of deployment statuses)")
	}
	cfg.PublicURL = strings.TrimSuffix(cfg.PublicURL, "/")
	rp := &Reporter{cfg: cfg, gate: cfg.Gate, log: cfg.Logger,
		deployments: map[string]int64{}, comments: map[string]int64{}, shown: map[string]int{},
		versions: map[string]int64{}, answered: map[string]bool{}}
	if rp.gate == nil {
		rp.gate = NewProtectionRuleGate(cfg.App, cfg.PublicURL)
	}
	if rp.log == nil {
		rp.log = slog.New(slog.DiscardHandler)
	}
	return rp, nil
}

// Notify reports n on GitHub. Every part is attempted; the errors are joined.
//
// Notifications of one request can arrive out of order (the approval path
// reports "queued" after its commit while a deploy worker already reports
// "running"), so Notify brings GitHub up to the request's state rather than
// replaying each event: under a per-request lock, a notification older
// than one already reported (lower Request.Version) changes nothing, and
// deployment statuses follow the lifecycle (see reportDeployment).
func (rp *Reporter) Notify(ctx context.Context, n bot.Notification) error {
	r := n.Request
	if r.ID == "" || r.Repo == "" {
		return nil
	}
	lk := rp.lockFor(r.ID)
	lk.Lock()
	defer lk.Unlock()
	if rp.stale(r) {
		rp.log.DebugContext(ctx, "github: skipping a stale notification", slog.String("request", r.ID),
			slog.String("kind", string(n.Kind)), slog.String("state", string(r.State)), slog.Int64("version", r.Version))
		return nil
	}
	var errs []error
	if r.Trigger == bot.TriggerProtectionRule {
		errs = append(errs, rp.answerProtectionRule(ctx, n))
	} else {
		errs = append(errs, rp.reportDeployment(ctx, n))
	}
	errs = append(errs, rp.reportOnPR(ctx, n))
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reporting %s of request %s on GitHub: %w", n.Kind, r.ID, err)
	}
	return nil
}

// stale reports whether a newer version of r was reported already, and
// otherwise remembers r's version as the newest.
func (rp *Reporter) stale(r bot.Request) bool {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if seen, ok := rp.versions[r.ID]; ok && r.Version < seen {
		return true
	}
	rp.trimLocked()
	rp.versions[r.ID] = r.Version
	return false
}

func (rp *Reporter) lockFor(id string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return &rp.locks[h.Sum32()%uint32(len(rp.locks))]
}

func (rp *Reporter) env(r bot.Request) EnvironmentInfo {
	if rp.cfg.Environment == nil {
		return EnvironmentInfo{}
	}
	return rp.cfg.Environment(r.Repo, r.Environment)
}

func (rp *Reporter) logURL(r bot.Request) string { return rp.cfg.PublicURL + "/deployments/" + r.ID }

// ended reports whether the request is over (for labels, the audit entry
// and protection rules). Failed counts: only a rollback that already
// happened inside the same deploy can follow it.
func ended(r bot.Request) bool { return r.State.Terminal() || r.State == bot.StateFailed }

func reasonOf(r bot.Request) string {
	if r.Decision != nil && !r.Decision.Allowed && r.Decision.Reason != "" {
		return r.Decision.Reason
	}
	if r.StateReason != "" {
		return r.StateReason
	}
	return string(r.State)
}

// payloadRequestKey names the request in a deployment's payload.
const payloadRequestKey = "tollgate_request_id"

// ensureDeployment finds the deployment created for r earlier (a lost
// answer, a crash before recording it) or creates it, and says whether it
// created it. Looking first is what makes creation safe to repeat. Only a
// deployment this App made counts: a repository writer can create one
// with the same SHA, environment and payload (the request id is public
// once it awaits approval), and adopting it would show them on GitHub as
// the creator of Tollgate's deploy, with their description and payload.
func (rp *Reporter) ensureDeployment(ctx context.Context, c *gh.Client, owner, name string, r bot.Request) (int64, bool, error) {
	existing, err := listDeployments(ctx, c, owner, name, r.SHA, r.Environment)
	if err != nil {
		return 0, false, fmt.Errorf("looking for the deployment of request %s: %w", r.ID, err)
	}
	for _, d := range existing {
		var p map[string]any
		if json.Unmarshal(d.Payload, &p) != nil || p[payloadRequestKey] != r.ID {
			continue
		}
		if !rp.cfg.App.madeByThisApp(d.madeByApp, d.Creator) {
			rp.log.WarnContext(ctx, "github: a deployment names this request but was not made by Tollgate; not using it",
				slog.String("request", r.ID), slog.Int64("deployment", d.GetID()), slog.String("creator", d.GetCreator().GetLogin()))
			continue
		}
		return d.GetID(), false, nil
	}
	env := rp.env(r)
	req := &gh.DeploymentRequest{
		Ref: gh.String(r.SHA), Task: gh.String("deploy"), Environment: gh.String(r.Environment),
		AutoMerge: gh.Bool(false), RequiredContexts: &[]string{}, // Tollgate checks CI itself
		Payload: map[string]any{payloadRequestKey: r.ID, "trigger": string(r.Trigger),
			"requester": r.Requester.Login, "log_url": rp.logURL(r)},
		Description:           gh.String(clipRunes(fmt.Sprintf("Tollgate request %s by %s", r.ID, r.Requester.Login), 140)),
		ProductionEnvironment: gh.Bool(env.Production), TransientEnvironment: gh.Bool(env.Transient),
	}
	d, _, err := c.Repositories.CreateDeployment(ctx, owner, name, req)
	if err != nil {
		return 0, false, fmt.Errorf("creating the deployment of request %s: %w", r.ID, err)
	}
	return d.GetID(), true, nil
}

// prNumber is the PR a request reports on, 0 for none.
func (rp *Reporter) prNumber(r bot.Request) int {
	if rp.cfg.PullRequest != nil {
		return rp.cfg.PullRequest(r)
	}
	if r.PR != nil {
		return r.PR.Number
	}
	return 0
}

// commentWanted says whether n creates the PR comment (c) or only
// updates one that exists (u).
func commentWanted(n bot.Notification) (create, update bool) {
	switch n.Kind {
	case bot.NotifyApprovalNeeded, bot.NotifyRefused, bot.NotifyFinished:
		return true, true
	case bot.NotifyStateChanged:
		if ended(n.Request) {
			return true, true
		}
		return false, true
	case bot.NotifyApprovalGranted, bot.NotifyEmergencyReview:
		return false, true
	}
	return false, false
}

// reportOnPR writes the request's PR comment and, when a label-triggered
// request ends, removes the label.
func (rp *Reporter) reportOnPR(ctx context.Context, n bot.Notification) error {
	r := n.Request
	number := rp.prNumber(r)
	if number <= 0 {
		return nil
	}
	create, update := commentWanted(n)
	if !create && !update {
		return nil
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
	if err := rp.writeComment(ctx, c, owner, name, number, n, create); err != nil {
		errs = append(errs, err)
	}
	if r.Trigger == bot.TriggerLabel && ended(r) {
		label := rp.env(r).Label
		if label == "" {
			label = "deploy:" + r.Environment
		}
		resp, err := c.Issues.RemoveLabelForIssue(ctx, owner, name, number, label)
		if err != nil && statusOf(resp) != http.StatusNotFound { // already gone is fine
			errs = append(errs, fmt.Errorf("removing label %s from %s#%d: %w", label, r.Repo, number, err))
		}
	}
	return errors.Join(errs...)
}

func (rp *Reporter) writeComment(ctx context.Context, c *gh.Client, owner, name string, number int, n bot.Notification, create bool) error {
	r := n.Request
	id := rp.knownComment(r)
	if id == 0 && create {
		found, err := rp.findComment(ctx, c, owner, name, number, r.ID)
		if err != nil {
			return err
		}
		id = found
	}
	if id == 0 && !create {
		return nil
	}
	var audit *AuditEntry
	if ended(r) && rp.cfg.Audit != nil {
		if a, err := rp.cfg.Audit.AuditFacts(ctx, r.ID); err != nil {
			rp.log.WarnContext(ctx, "github: no audit entry for the PR comment", slog.String("request", r.ID), slog.Any("err", err))
		} else {
			audit = &a
		}
	}
	body := renderComment(r, rp.logURL(r), audit)
	if id != 0 {
		_, resp, err := c.Issues.EditComment(ctx, owner, name, id, &gh.IssueComment{Body: gh.String(body)})
		if err == nil {
			rp.rememberComment(r.ID, id)
			return nil
		}
		if statusOf(resp) != http.StatusNotFound {
			return fmt.Errorf("editing comment %d on %s/%s#%d: %w", id, owner, name, number, err)
		}
		// Someone deleted it: write a new one.
	}
	cm, _, err := c.Issues.CreateComment(ctx, owner, name, number, &gh.IssueComment{Body: gh.String(body)})
	if err != nil {
		return fmt.Errorf("commenting on %s/%s#%d: %w", owner, name, number, err)
	}
	rp.rememberComment(r.ID, cm.GetID())
	return rp.cfg.Recorder.SetExternalRef(ctx, r.ID, RefComment, strconv.FormatInt(cm.GetID(), 10))
}

func (rp *Reporter) rememberComment(requestID string, id int64) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.trimLocked()
	rp.comments[requestID] = id
}

// maxRemembered bounds the in-memory bookkeeping. It only bridges the gap
// until a request carries its ids (and both are findable on GitHub), so
// forgetting it all at once is safe.
const maxRemembered = 10000

func (rp *Reporter) trimLocked() {
	if len(rp.comments)+len(rp.deployments)+len(rp.shown)+len(rp.versions)+len(rp.answered) < maxRemembered {
		return
	}
	rp.deployments, rp.comments = map[string]int64{}, map[string]int64{}
	rp.shown, rp.versions, rp.answered = map[string]int{}, map[string]int64{}, map[string]bool{}
}
