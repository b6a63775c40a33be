package demo

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"

	"github.com/tollgate-dev/tollgate/integrations/slacktest"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/cli"
)

// play runs the story, step by step. A step that cannot run because a
// piece of Tollgate is missing says so; a step that runs and misbehaves
// ends the story with an error.
func (st *demoStory) play(ctx context.Context) error {
	steps := []func(context.Context) error{
		st.stepLink, st.stepMergeToStaging, st.stepRequestProduction, st.stepSelfApproval,
		st.stepApproveAndDeploy, st.stepAttestation, st.stepHealthCheckRollback, st.stepFixToStaging, st.stepEmergency,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			_ = st.flush(ctx) // show what did happen before the failure
			return err
		}
		if err := st.flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (st *demoStory) stepLink(ctx context.Context) error {
	st.section("Carol, Bob and Dan link their Slack accounts to GitHub")
	for _, p := range []demoPerson{demoCarol, demoBob, demoDan} {
		if err := st.link(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (st *demoStory) stepMergeToStaging(ctx context.Context) error {
	c := st.fakes.hist.Banner
	st.section(fmt.Sprintf("Alice merges PR #1 %q (reviewed by Bob): staging deploys", c.Title))
	r, err := st.mergeToStaging(ctx, 1, c)
	if err != nil {
		return err
	}
	return expect(r.State == bot.StateSucceeded, "the staging deploy of %s ended %s: %s", demoShort(c.SHA), r.State, r.StateReason)
}

// mergeToStaging merges pull request number as commit c, delivers GitHub's
// webhook for it and waits for the staging deploy the merge starts.
func (st *demoStory) mergeToStaging(ctx context.Context, number int, c demoCommit) (bot.Request, error) {
	p, err := st.fakes.mergePullRequest(ctx, number, c)
	if err != nil {
		return bot.Request{}, err
	}
	if err := st.webhook(ctx, p, "(closed, merged into main)"); err != nil {
		return bot.Request{}, err
	}
	return st.deployed(ctx, "staging", c.SHA, bot.TriggerMerge, st.targets.Staging)
}

func (st *demoStory) stepRequestProduction(ctx context.Context) error {
	st.section("Carol asks for production in Slack: the approval request")
	if _, err := st.slash(ctx, demoCarol, "production"); err != nil {
		return err
	}
	sha := st.fakes.hist.Banner.SHA
	r, err := st.waitRequest(ctx, "production", sha, bot.TriggerSlack, func(s bot.State) bool { return s != bot.StateRequested })
	if err != nil {
		return err
	}
	if err := expect(r.State == bot.StateAwaitingApproval, "the production request is %s, not awaiting approval: %s", r.State, r.StateReason); err != nil {
		return err
	}
	return st.waitFor(ctx, "the approval message in Slack", func(ctx context.Context) (bool, error) {
		cur, err := st.srv.Service().Request(ctx, r.ID)
		if err != nil {
			return false, err
		}
		told := false
		for _, e := range st.fakes.slack.Ephemerals(demoCarol.SlackID) {
			told = told || strings.Contains(e.Text, r.ID)
		}
		return cur.ExternalRefs["slack_ts"] != "" && told && st.githubTold(cur, false), nil
	})
}

// deployed waits for the request of env at sha by trigger to end and for
// GitHub and Slack to be told, prints what people saw, and shows the result.
func (st *demoStory) deployed(ctx context.Context, env, sha string, trigger bot.Trigger, target demoEnvTarget) (bot.Request, error) {
	r, err := st.waitRequest(ctx, env, sha, trigger, finished)
	if err != nil {
		return r, err
	}
	if r, err = st.settle(ctx, r.ID); err != nil {
		return r, err
	}
	if err := st.flush(ctx); err != nil {
		return r, err
	}
	st.printResult(ctx, r, target)
	return r, nil
}

// productionRequest is the request Carol made.
func (st *demoStory) productionRequest(ctx context.Context) (bot.Request, error) {
	for _, r := range st.requests {
		if r.Environment == "production" && r.Trigger == bot.TriggerSlack {
			return st.srv.Service().Request(ctx, r.ID)
		}
	}
	return bot.Request{}, fmt.Errorf("%w: no production request was made", errStory)
}

func (st *demoStory) stepSelfApproval(ctx context.Context) error {
	st.section("Carol clicks Approve on her own request: refused")
	r, err := st.productionRequest(ctx)
	if err != nil {
		return err
	}
	before := len(st.fakes.slack.Ephemerals(demoCarol.SlackID))
	if err := st.click(ctx, demoCarol, r, approveButton); err != nil {
		return err
	}
	if err := st.waitFor(ctx, "the refusal shown to Carol", func(context.Context) (bool, error) {
		return len(st.fakes.slack.Ephemerals(demoCarol.SlackID)) > before, nil
	}); err != nil {
		return err
	}
	r, err = st.srv.Service().Request(ctx, r.ID)
	if err != nil {
		return err
	}
	return expect(r.State == bot.StateAwaitingApproval && len(r.Approvals) == 0,
		"Carol's own approval was counted: request %s is %s with %d approvals", r.ID, r.State, len(r.Approvals))
}

func (st *demoStory) stepApproveAndDeploy(ctx context.Context) error {
	st.section("Bob approves: production deploys to web-1 and web-2")
	r, err := st.productionRequest(ctx)
	if err != nil {
		return err
	}
	if err := st.click(ctx, demoBob, r, approveButton); err != nil {
		return err
	}
	r, err = st.deployed(ctx, "production", r.SHA, bot.TriggerSlack, st.targets.Production)
	if err != nil {
		return err
	}
	return expect(r.State == bot.StateSucceeded, "the production deploy ended %s: %s", r.State, r.StateReason)
}

func (st *demoStory) stepHealthCheckRollback(ctx context.Context) error {
	c := st.fakes.hist.Typo
	st.section(fmt.Sprintf("Alice merges PR #2 %q: a typo fails the health check, staging rolls back", c.Title))
	r, err := st.mergeToStaging(ctx, 2, c)
	if err != nil {
		return err
	}
	return expect(r.State == bot.StateRolledBack, "the broken staging deploy ended %s, not rolled back: %s", r.State, r.StateReason)
}

func (st *demoStory) stepFixToStaging(ctx context.Context) error {
	c := st.fakes.hist.Fix
	st.section(fmt.Sprintf("Alice merges the fix, PR #3 %q: staging deploys it", c.Title))
	r, err := st.mergeToStaging(ctx, 3, c)
	if err != nil {
		return err
	}
	return expect(r.State == bot.StateSucceeded, "the staging deploy of the fix ended %s: %s", r.State, r.StateReason)
}

func (st *demoStory) stepEmergency(ctx context.Context) error {
	st.section("Dan (on call) ships the fix to production as an emergency change; Bob reviews it")
	if _, err := st.slash(ctx, demoDan, "emergency production main INC-42 checkout times out under load"); err != nil {
		return err
	}
	sha := st.fakes.hist.Fix.SHA
	r, err := st.deployed(ctx, "production", sha, bot.TriggerEmergency, st.targets.Production)
	if err != nil {
		return err
	}
	if err := expect(r.State == bot.StateSucceeded, "the emergency deploy ended %s: %s", r.State, r.StateReason); err != nil {
		return err
	}
	return st.reviewEmergency(ctx, r)
}

// reviewEmergency has Bob review the emergency change after the fact:
// Tollgate posts the review message in the channel, and Bob clicks its
// Review: acceptable button.
func (st *demoStory) reviewEmergency(ctx context.Context, r bot.Request) error {
	err := st.waitFor(ctx, "the emergency review message", func(ctx context.Context) (bool, error) {
		var err error
		if r, err = st.srv.Service().Request(ctx, r.ID); err != nil {
			return false, err
		}
		channel, ts, ok := strings.Cut(r.ExternalRefs[reviewOKButton.ref], ":")
		if !ok {
			return false, nil
		}
		m, ok := st.fakes.slack.Message(channel, ts)
		if !ok {
			return false, nil
		}
		_, _, ok = slacktest.Button(m.Blocks, reviewOKButton.actionID)
		return ok, nil
	})
	if err != nil {
		return err
	}
	if err := st.flush(ctx); err != nil {
		return err
	}
	if err := st.click(ctx, demoBob, r, reviewOKButton); err != nil {
		return err
	}
	var rev bot.EmergencyReview
	err = st.waitFor(ctx, "Bob's review to be recorded", func(ctx context.Context) (bool, error) {
		revs, err := st.srv.Service().EmergencyReviews(ctx, false)
		if err != nil {
			return false, err
		}
		for _, x := range revs {
			if x.RequestID == r.ID && !x.Pending() {
				rev = x
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	st.printf("    review recorded: %s by %s at %s (due %s)\n", rev.Outcome, rev.Reviewer.Login,
		rev.ReviewedAt.UTC().Format("15:04:05Z"), rev.DueAt.UTC().Format("2006-01-02 15:04Z"))
	status, page := st.fetch(ctx, "/deployments/"+r.ID)
	st.printf("    log page: %s/deployments/%s %s\n", st.base, r.ID, status)
	st.printf("      shows: %s\n", emergencyOnPage(page))
	return nil
}

// emergencyOnPage reads the emergency section of a deployment page as a
// person would: what became of approvals and the review's verdict.
func emergencyOnPage(page string) string {
	text := func(id string) string {
		m := regexp.MustCompile(`id="` + id + `">(?:<span[^>]*>)?([^<]*)<`).FindStringSubmatch(page)
		if m == nil {
			return "(none)"
		}
		return html.UnescapeString(strings.TrimSpace(m[1]))
	}
	skipped := "approvals counted"
	if strings.Contains(page, "approvals skipped by policy") {
		skipped = "approvals skipped by policy"
	}
	return fmt.Sprintf("%s; reason %q, ticket %s; review %s by %s", skipped, text("emergency-reason"), text("emergency-ticket"),
		text("verdict"), text("reviewer"))
}

// printResult shows how a deploy ended: what went out (the manifest from
// the deployment log), and what each server's `current` points to now.
func (st *demoStory) printResult(ctx context.Context, r bot.Request, env demoEnvTarget) {
	st.printf("  Result: request %s %s", r.ID, strings.ReplaceAll(string(r.State), "_", " "))
	if r.Result != nil {
		st.printf(" in %s, %s sent", r.Result.Duration.Round(1e6), cli.Plural(r.Result.FilesSent, "file", "files"))
	}
	st.printf("\n")
	if log, err := st.srv.ReadDeployLog(ctx, r.ID); err == nil {
		st.printManifest(r, string(log))
	}
	for _, s := range env.Servers {
		cur := s.currentRelease()
		if cur == "" {
			cur = "(nothing deployed)"
		}
		st.printf("    %-9s current → releases/%s\n", s.Name, cur)
	}
	st.printf("    log page: %s/deployments/%s %s\n", st.base, r.ID, st.fetchStatus(ctx, "/deployments/"+r.ID))
}

// fetchStatus GETs a page of the running server as a person would: in a
// browser signed in through GitHub as the demo's viewer (the first fetch
// follows the login: /login, GitHub's authorize page, /login/callback).
// It says how the page answered.
func (st *demoStory) fetchStatus(ctx context.Context, path string) string {
	status, _ := st.fetch(ctx, path)
	return status
}

// fetch is fetchStatus, returning the page too.
func (st *demoStory) fetch(ctx context.Context, path string) (status, page string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, st.base+path, nil)
	if err != nil {
		return "(" + err.Error() + ")", ""
	}
	st.fakes.gh.AuthorizeAs(demoViewer.Login)
	defer st.fakes.gh.AuthorizeAs("")
	resp, err := st.browser.Do(req)
	if err != nil {
		return "(" + err.Error() + ")", ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return fmt.Sprintf("(GET → %s, %d bytes, signed in through GitHub as @%s)", resp.Status, len(b), demoViewer.Login), string(b)
}

// printManifest shows the release manifest the deployment log holds (the
// log page and the audit entry's digest cover it), marking the files that
// differ from what ran on the environment before.
func (st *demoStory) printManifest(r bot.Request, log string) {
	before := st.live[r.Environment]
	now := map[string]string{}
	for _, l := range strings.Split(log, "\n") {
		rest, ok := strings.CutPrefix(l, "[manifest] ")
		if !ok {
			continue
		}
		f := strings.Split(rest, "\t")
		if len(f) != 5 { // the header line: release, entries, digest
			st.printf("    manifest │ %s\n", rest)
			continue
		}
		if f[0] != "f" {
			continue
		}
		now[f[4]] = f[3]
		mark := ""
		if before != nil && before[f[4]] != f[3] {
			mark = "  ← changed"
		}
		st.printf("    manifest │ %s %s %5s sha256:%s… %s%s\n", f[0], f[1], f[2], f[3][:min(16, len(f[3]))], f[4], mark)
	}
	if r.State == bot.StateSucceeded && len(now) > 0 {
		if st.live == nil {
			st.live = map[string]map[string]string{}
		}
		st.live[r.Environment] = now
	}
}
