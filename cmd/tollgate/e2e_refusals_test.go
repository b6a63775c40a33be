package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/deploy/sshdtest"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// refusalTTL is preview's approval window.
const refusalTTL = 5 * time.Minute

// refusedHeadline is how the request comment of a policy refusal starts.
func refusedHeadline(commit, env string) string {
	return fmt.Sprintf("⛔ Deploy of `%s` to **%s** was refused", commit[:7], env)
}

// refusalWorld is the serve e2e world with a strict staging (merges to
// main deploy after an independent review and green checks) and a
// preview environment on a second sshd, where a deploy:preview label
// deploys a PR's head after one approval. alice deploys and approves,
// bob writes the PRs and approves, carol approves, dave is in the org but
// in no team. Its clock can be moved forward.
type refusalWorld struct {
	*e2e
	clock       *offsetClock
	previewRoot string
}

func newRefusalWorld(t *testing.T) *refusalWorld {
	t.Helper()
	w := &refusalWorld{e2e: newE2E(t, e2eOptions{}), clock: &offsetClock{}}
	w.gh.SetTeamMember("acme", "approvers", "alice", "")
	w.gh.SetTeamMember("acme", "approvers", "bob", "")
	w.gh.AddOrgMember("acme", "dave", "member")
	// The harness's PR #4 qualifies for staging: the staging control.
	w.gh.SetCollaborator(e2eRepo, "carol", "write") // only reviews by people with write access count
	w.gh.AddReview(e2eRepo, 4, githubtest.Review{User: "carol", State: "APPROVED"})
	w.gh.SetStatus(e2eRepo, sha('c'), "ci/build", "success")

	pub := writeTestSSHKey(t, filepath.Join(w.dir, "preview_ed25519"), "")
	srv := sshdtest.Start(t, pub)
	sshdtest.WriteKnownHosts(t, filepath.Join(w.dir, "known_hosts_preview"), srv)
	w.previewRoot = filepath.Join(t.TempDir(), "shop-preview")
	w.writeConfig(t, "require:\n  pr_review: true\n  checks: true")
	writeTestFile(t, w.configPath, readTestFile(t, w.configPath)+fmt.Sprintf(`      preview:
        deployers: [deployers]
        approvers: [approvers]
        required_approvals: 1
        approval_ttl: %s
        branches: ["feature-*"]
        servers:
          - host: %s
            port: %d
            user: %s
        ssh:
          private_key_file: preview_ed25519
          known_hosts_file: known_hosts_preview
        path: %s
`, refusalTTL, srv.Host, srv.Port, srv.User, w.previewRoot))
	return w
}

// awaitApproval opens PR #number, alice labels it deploy:preview, and
// the request waits for an approval; it returns the request's id.
func (w *refusalWorld) awaitApproval(t *testing.T, number int) string {
	t.Helper()
	w.openPR(t, number)
	w.labelPR(t, number, "deploy:preview", "alice")
	id, body := w.requestComment(t, number)
	for _, want := range []string{"⏳ Deploy of `" + prCommit(number, 1)[:7] + "` to **preview** is waiting for approval",
		"comment `/approve " + id + "`", "not @alice nor the PR author @bob"} {
		if !strings.Contains(body, want) {
			t.Fatalf("request comment lacks %q:\n%s", want, body)
		}
	}
	return id
}

// approve comments "/approve id" on PR #number as who and returns the
// App's reply. It stops waiting early, with no reply, when the approval
// was counted instead (the request comment shows it).
func (w *refusalWorld) approve(t *testing.T, number int, id, who string) string {
	t.Helper()
	after := w.postCommand(t, number, who, "/approve "+id)
	var reply string
	waitFor(t, "the App's answer to @"+who+"'s approval on PR #"+strconv.Itoa(number), func() bool {
		var ok bool
		if reply, ok = w.appReply(number, who, after); ok {
			return true
		}
		_, body := w.requestComment(t, number)
		return !strings.Contains(body, "| Approved by | 0 of 1 required |")
	})
	return reply
}

// refusalAsk is what a case asked for and what the App answered.
type refusalAsk struct {
	pr      int      // the PR it happened on
	id      string   // the request
	commits []string // commits that must not have been deployed
	answer  string   // the App's answer on the PR
}

// TestServeRefusals is issue 4's list of refusals end to end through the
// real server: each ends with nothing deployed (on the sshd, in GitHub's
// deployments, in the audit log), the refusal audited with its code, and
// the PR told why in words a person can act on; the audit log verifies.
// Two controls first deploy through the same paths, so each refusal is
// one fact away from a deploy.
func TestServeRefusals(t *testing.T) {
	w := newRefusalWorld(t)
	w.startWithClock(t, w.clock.Now)
	stagingLive, previewLive := w.deployControls(t)
	policyAnswer := []string{"rejected; nothing was deployed", "**Why:**", "**What you can do:**"}
	tests := []struct {
		name      string
		ask       func(t *testing.T) refusalAsk
		action    string            // the audit entry that records the refusal
		check     string            // the policy check that failed (policy refusals)
		codes     []bot.RefusalCode // the refusal's code (later ones are also accepted)
		states    []bot.State       // the request's state afterwards
		answer    []string          // in the App's answer; {id} is the request id
		unlabeled string            // a label the App removes as the request ended
	}{
		{
			name: "merger not in deployers",
			ask: func(t *testing.T) refusalAsk {
				w.openPR(t, 10)
				w.gh.AddReview(e2eRepo, 10, githubtest.Review{User: "carol", State: "APPROVED"})
				w.mergePR(t, 10, "dave", "success")
				id, body := w.requestComment(t, 10)
				return refusalAsk{10, id, []string{mergeCommit(10)}, body}
			},
			action: bot.ActionPolicyDecided, check: bot.CheckDeployer, codes: []bot.RefusalCode{bot.CodeNotDeployer},
			states: []bot.State{bot.StateRejected},
			answer: append([]string{refusedHeadline(mergeCommit(10), "staging"), "Requested by | @dave",
				"only members of acme/deployers may deploy here, and dave is not an active member",
				"ask a member of the environment's deployers team to deploy"}, policyAnswer...),
		},
		{
			name: "change without an independent approving review",
			ask: func(t *testing.T) refusalAsk {
				// carol approved the first commit; bob pushed another after it.
				w.openPR(t, 11)
				w.gh.AddReview(e2eRepo, 11, githubtest.Review{User: "carol", State: "APPROVED"})
				w.pushToPR(t, 11, 2)
				w.mergePR(t, 11, "alice", "success")
				id, body := w.requestComment(t, 11)
				return refusalAsk{11, id, []string{mergeCommit(11)}, body}
			},
			action: bot.ActionPolicyDecided, check: bot.CheckPRReview, codes: []bot.RefusalCode{bot.CodeNoReview},
			states: []bot.State{bot.StateRejected},
			answer: append([]string{refusedHeadline(mergeCommit(11), "staging"),
				"PR #11 has no approving review on its final commit " + prCommit(11, 2)[:7] + " by someone other than its author bob",
				"get an approving review on the PR's final commit from someone other than its author, merge, then ask again"},
				policyAnswer...),
		},
		{
			name: "red checks",
			ask: func(t *testing.T) refusalAsk {
				w.openPR(t, 12)
				w.gh.AddReview(e2eRepo, 12, githubtest.Review{User: "carol", State: "APPROVED"})
				w.mergePR(t, 12, "alice", "failure")
				id, body := w.requestComment(t, 12)
				return refusalAsk{12, id, []string{mergeCommit(12)}, body}
			},
			action: bot.ActionPolicyDecided, check: bot.CheckChecks, codes: []bot.RefusalCode{bot.CodeChecksFailed},
			states: []bot.State{bot.StateRejected},
			answer: append([]string{refusedHeadline(mergeCommit(12), "staging"),
				"checks on " + mergeCommit(12)[:7] + " are not green: ci/build failure",
				"make the failing checks pass on this commit, then ask again"}, policyAnswer...),
		},
		{
			name: "SHA not on an allowed branch",
			ask: func(t *testing.T) refusalAsk {
				// A reviewed, green PR head labelled for staging before it was merged.
				w.openPR(t, 13)
				w.gh.AddReview(e2eRepo, 13, githubtest.Review{User: "carol", State: "APPROVED"})
				w.gh.SetStatus(e2eRepo, prCommit(13, 1), "ci/build", "success")
				w.labelPR(t, 13, "deploy:staging", "alice")
				id, body := w.requestComment(t, 13)
				return refusalAsk{13, id, []string{prCommit(13, 1)}, body}
			},
			action: bot.ActionPolicyDecided, check: bot.CheckBranch, codes: []bot.RefusalCode{bot.CodeBranchNotAllowed},
			states: []bot.State{bot.StateRejected}, unlabeled: "deploy:staging",
			answer: append([]string{refusedHeadline(prCommit(13, 1), "staging"), "label on #13",
				prCommit(13, 1)[:7] + " is not on an allowed branch (main); merge it first",
				"merge the change into one of the environment's deploy branches, then add the label again"}, policyAnswer...),
		},
		{
			name: "label added by someone outside the team",
			ask: func(t *testing.T) refusalAsk {
				w.openPR(t, 14)
				w.labelPR(t, 14, "deploy:preview", "dave")
				id, body := w.requestComment(t, 14)
				return refusalAsk{14, id, []string{prCommit(14, 1)}, body}
			},
			action: bot.ActionPolicyDecided, check: bot.CheckDeployer, codes: []bot.RefusalCode{bot.CodeNotDeployer},
			states: []bot.State{bot.StateRejected}, unlabeled: "deploy:preview",
			answer: append([]string{refusedHeadline(prCommit(14, 1), "preview"), "Requested by | @dave",
				"only members of acme/deployers may deploy here, and dave is not an active member",
				"ask a member of the environment's deployers team to deploy"}, policyAnswer...),
		},
		{
			name: "approval by the requester",
			ask: func(t *testing.T) refusalAsk {
				id := w.awaitApproval(t, 20)
				return refusalAsk{20, id, []string{prCommit(20, 1)}, w.approve(t, 20, id, "alice")}
			},
			action: bot.ActionApprovalRefused, codes: []bot.RefusalCode{bot.CodeSelfApproval},
			states: []bot.State{bot.StateAwaitingApproval},
			answer: []string{"@alice you requested this deploy; someone else must approve it"},
		},
		{
			name: "approval by the PR author",
			ask: func(t *testing.T) refusalAsk {
				id := w.awaitApproval(t, 21)
				return refusalAsk{21, id, []string{prCommit(21, 1)}, w.approve(t, 21, id, "bob")}
			},
			action: bot.ActionApprovalRefused, codes: []bot.RefusalCode{bot.CodeAuthorApproval},
			states: []bot.State{bot.StateAwaitingApproval},
			answer: []string{"@bob you wrote PR #21; someone else must approve its deploy"},
		},
		{
			name: "approval after the PR got a new commit",
			ask: func(t *testing.T) refusalAsk {
				id := w.awaitApproval(t, 22)
				w.pushToPR(t, 22, 2)
				p, err := w.gh.Payloads().PullRequestSynchronize(e2eRepo, 22, prCommit(22, 1), prCommit(22, 2), "bob")
				w.deliver(t, p, err)
				return refusalAsk{22, id, []string{prCommit(22, 1), prCommit(22, 2)}, w.approve(t, 22, id, "carol")}
			},
			action: bot.ActionApprovalRefused, codes: []bot.RefusalCode{bot.CodeStaleSHA},
			states: []bot.State{bot.StateAwaitingApproval},
			answer: []string{"@carol feature-22 moved from " + prCommit(22, 1)[:7] + " to " + prCommit(22, 2)[:7] +
				" since this request; this approval was for " + prCommit(22, 1)[:7] + " only, request a new deploy"},
		},
		{
			// Last: the clock stays moved. The expiry sweep runs every 30 s
			// of real time; if it expires the request before the approval
			// arrives, the approval meets an expired request instead.
			name: "approval after expiry",
			ask: func(t *testing.T) refusalAsk {
				id := w.awaitApproval(t, 23)
				w.clock.Advance(refusalTTL + time.Minute)
				return refusalAsk{23, id, []string{prCommit(23, 1)}, w.approve(t, 23, id, "carol")}
			},
			action: bot.ActionApprovalRefused, codes: []bot.RefusalCode{bot.CodeApprovalExpired, bot.CodeWrongState},
			states: []bot.State{bot.StateAwaitingApproval, bot.StateExpired},
			answer: []string{"@carol request {id} ", "expired"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := map[string]deployedReleases{"staging": releasesIn(t, w.root), "preview": releasesIn(t, w.previewRoot)}
			asked := tt.ask(t)
			for _, want := range tt.answer {
				if want = strings.ReplaceAll(want, "{id}", asked.id); !strings.Contains(asked.answer, want) {
					t.Errorf("the App's answer on the PR lacks %q:\n%s", want, asked.answer)
				}
			}
			w.checkRefusalAudited(t, asked.id, tt.action, tt.check, tt.codes, tt.states)
			if tt.unlabeled != "" && !t.Failed() { // a request that did not end keeps its label
				waitFor(t, "the App to remove "+tt.unlabeled, func() bool {
					return !slices.Contains(w.gh.Labels(e2eRepo, asked.pr), tt.unlabeled)
				})
			}
			w.checkNothingDeployed(t, asked, before)
		})
	}

	if code := w.stop(t); code != exitOK {
		t.Fatalf("serve exit code %d\n%s", code, w.stderr.String())
	}
	// After everything settled: only the controls ever deployed.
	if ds := w.gh.Deployments(e2eRepo); len(ds) != 2 {
		var list []string
		for _, d := range ds {
			list = append(list, d.Environment+"@"+d.SHA[:7])
		}
		t.Errorf("GitHub deployments %v, want only the 2 of the controls", list)
	}
	for root, live := range map[string]string{w.root: stagingLive, w.previewRoot: previewLive} {
		if got := releasesIn(t, root); got.current != live || !slices.Equal(got.all, []string{live}) {
			t.Errorf("%s holds %+v, want only the control's release %s", root, got, live)
		}
	}
	st := w.openDB(t)
	if n := len(auditData(t, st, bot.ActionDeployStarted)); n != 2 {
		t.Errorf("%d deploy.started entries, want the 2 of the controls", n)
	}
	if n := len(auditData(t, st, bot.ActionApprovalGranted)); n != 1 {
		t.Errorf("%d approval.granted entries, want the preview control's 1", n)
	}
	rep, err := audit.Verify(context.Background(), st.DB(), w.verifier)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.UnsignedTail != 0 || !rep.HasCheckpoint {
		t.Errorf("verify: ok %v, unsigned tail %d, checkpoint %v: %v", rep.OK, rep.UnsignedTail, rep.HasCheckpoint, rep.Problem)
	}
}

// deployControls deploys through the paths the refusals take: PR #4's
// merge to staging, and PR #5's deploy:preview label approved by carol.
// It returns each environment's live release.
func (w *refusalWorld) deployControls(t *testing.T) (staging, preview string) {
	t.Helper()
	if code := w.sendMerge(t, githubtest.NewDeliveryID()); code != http.StatusAccepted {
		t.Fatalf("merge webhook answered %d, want 202", code)
	}
	w.checkDeployed(t, "staging", sha('c'))
	staging = releasesIn(t, w.root).current

	id := w.awaitApproval(t, 5)
	w.postCommand(t, 5, "carol", "/approve "+id)
	w.checkDeployed(t, "preview", prCommit(5, 1))
	preview = releasesIn(t, w.previewRoot).current
	return staging, preview
}

// checkDeployed waits for commit's GitHub deployment to end and wants it
// to have succeeded with the release live: without that, the refusals
// would prove nothing.
func (w *refusalWorld) checkDeployed(t *testing.T, env, commit string) {
	t.Helper()
	var statuses []string
	waitFor(t, "the "+env+" control deploy", func() bool {
		for _, d := range w.gh.Deployments(e2eRepo) {
			if d.SHA == commit && len(d.Statuses) > 0 {
				statuses = w.gh.DeploymentStatuses(e2eRepo, d.ID)
				last := statuses[len(statuses)-1]
				return last == "success" || last == "failure" || last == "error"
			}
		}
		return false
	})
	if want := []string{"queued", "in_progress", "success"}; !slices.Equal(statuses, want) {
		t.Fatalf("the %s control deploy: statuses %v, want %v\n%s", env, statuses, want, w.stderr.String())
	}
	root := map[string]string{"staging": w.root, "preview": w.previewRoot}[env]
	if live := releasesIn(t, root).current; !strings.HasSuffix(live, "-"+commit[:7]) {
		t.Fatalf("the %s control deploy: current release %q, want one of %s", env, live, commit[:7])
	}
}

// checkRefusalAudited reads the database as an auditor would: the request
// is in one of states; one entry with action records the refusal with a
// code among codes (for a policy decision: not allowed, and check failed
// with that code); nothing approved or deployed the request; and the
// audit log verifies.
func (w *refusalWorld) checkRefusalAudited(t *testing.T, id, action, check string, codes []bot.RefusalCode, states []bot.State) {
	t.Helper()
	ctx := context.Background()
	st := w.openDB(t)
	r, err := st.Request(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(states, r.State) {
		t.Errorf("request %s is %s, want %v", id, r.State, states)
	}
	trail := auditActions(t, st, id)
	entries := auditOf(t, st, id, action)
	if len(entries) != 1 {
		t.Fatalf("%d %s entries about %s, want 1; its audit trail: %v", len(entries), action, id, trail)
	}
	got := entries[0]
	if !slices.Contains(codes, bot.RefusalCode(fmt.Sprint(got["code"]))) {
		t.Errorf("%s of %s: code %v, want %s", action, id, got["code"], codes[0])
	}
	if action == bot.ActionPolicyDecided {
		if got["allowed"] != false {
			t.Errorf("policy.decided of %s: allowed %v", id, got["allowed"])
		}
		if c := decidedCheck(got, check); c["outcome"] != string(bot.OutcomeFail) || c["code"] != got["code"] {
			t.Errorf("policy.decided of %s: check %s is %v, want failed with %v", id, check, c, got["code"])
		}
	}
	for _, a := range trail {
		if a == bot.ActionApprovalGranted || a == bot.ActionDeployStarted || a == bot.ActionDeployFinished {
			t.Errorf("the audit trail of %s has %s: %v", id, a, trail)
		}
	}
	rep, err := audit.Verify(ctx, st.DB(), w.verifier)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Errorf("the audit log does not verify: %v", rep.Problem)
	}
}

// checkNothingDeployed wants both servers as they were before the case and
// no GitHub deployment of the asked commits that got anywhere.
func (w *refusalWorld) checkNothingDeployed(t *testing.T, asked refusalAsk, before map[string]deployedReleases) {
	t.Helper()
	for env, root := range map[string]string{"staging": w.root, "preview": w.previewRoot} {
		if got := releasesIn(t, root); got.current != before[env].current || !slices.Equal(got.all, before[env].all) {
			t.Errorf("%s's server changed: %+v, was %+v", env, got, before[env])
		}
	}
	for _, d := range w.gh.Deployments(e2eRepo) {
		if !slices.Contains(asked.commits, d.SHA) {
			continue
		}
		for _, s := range d.Statuses {
			if s.State == "queued" || s.State == "in_progress" || s.State == "success" {
				t.Errorf("GitHub deployment %d of %s to %s went %s", d.ID, d.SHA[:7], d.Environment, s.State)
			}
		}
	}
}
