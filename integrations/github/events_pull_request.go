package github

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/inbox"
)

// onPullRequest handles the two pull request triggers: a merge into an
// auto-deploy branch deploys the merge commit, and a deploy label deploys
// the PR head.
func (d *Dispatcher) onPullRequest(ctx context.Context, dl hookDelivery, e *github.PullRequestEvent) error {
	switch e.GetAction() {
	case "closed":
		if !e.GetPullRequest().GetMerged() {
			return nil
		}
		return d.onMerged(ctx, dl, e)
	case "labeled":
		return d.onLabeled(ctx, dl, e)
	}
	return nil
}

// onMerged requests a deploy of the merge commit to every environment that
// deploys on merges into the PR's base branch; the merger is the requester.
func (d *Dispatcher) onMerged(ctx context.Context, dl hookDelivery, e *github.PullRequestEvent) error {
	repo, pr := e.GetRepo().GetFullName(), e.GetPullRequest()
	base := pr.GetBase().GetRef()
	envs := d.bot.ForMerge(repo, base)
	if len(envs) == 0 {
		dl.log.Debug("merge into a branch that deploys nowhere", "branch", base)
		return nil
	}
	sha := pr.GetMergeCommitSHA()
	if repo == "" || sha == "" {
		return inbox.Permanent(fmt.Errorf("merged PR #%d in delivery %s has no repository or merge commit", pr.GetNumber(), dl.id))
	}
	merger := pr.GetMergedBy()
	if merger == nil {
		merger = e.GetSender()
	}
	reqs := make([]bot.NewRequest, 0, len(envs))
	for _, env := range envs {
		reqs = append(reqs, bot.NewRequest{
			// A PR merges once: this key also absorbs duplicate events
			// that carry different delivery ids.
			SourceKey: fmt.Sprintf("merge:%s#%d:%s", repo, pr.GetNumber(), env),
			Repo:      repo, Environment: env, Ref: base, SHA: sha,
			Trigger: bot.TriggerMerge, Requester: webhookIdentity(merger),
			Reason: fmt.Sprintf("merged PR #%d: %s", pr.GetNumber(), pr.GetTitle()),
		})
	}
	return d.submitAll(ctx, dl, reqs)
}

// onLabeled requests a deploy of the PR head to the environment the label
// names; whoever added the label is the requester. The policy refuses it
// when that head is no longer the PR's head (bot.CheckPRHead).
func (d *Dispatcher) onLabeled(ctx context.Context, dl hookDelivery, e *github.PullRequestEvent) error {
	repo, pr := e.GetRepo().GetFullName(), e.GetPullRequest()
	label := e.GetLabel().GetName()
	env, ok := d.bot.ForLabel(repo, label)
	if !ok {
		return nil
	}
	sha := pr.GetHead().GetSHA()
	if repo == "" || sha == "" {
		return inbox.Permanent(fmt.Errorf("labeled PR #%d in delivery %s has no repository or head SHA", pr.GetNumber(), dl.id))
	}
	ref := pr.GetHead().GetRef()
	if !strings.EqualFold(pr.GetHead().GetRepo().GetFullName(), repo) {
		ref = "" // a fork's branch name means nothing here: pin the SHA
	}
	return d.submitAll(ctx, dl, []bot.NewRequest{{
		// Adding the label again later is a new ask (a new event, a new
		// body); a redelivery is not, and neither is a replay of a captured
		// body under a new X-GitHub-Delivery: that header is not signed,
		// so the key is a digest of what the signature covers.
		SourceKey: fmt.Sprintf("label:%s#%d:%s:%s", repo, pr.GetNumber(), env, payloadDigest(dl.payload)),
		Repo:      repo, Environment: env, Ref: ref, SHA: sha,
		Trigger: bot.TriggerLabel, Requester: webhookIdentity(e.GetSender()),
		Reason: fmt.Sprintf("label %s on PR #%d: %s", label, pr.GetNumber(), pr.GetTitle()),
	}})
}

// payloadDigest is the hex SHA-256 of a delivery's body: what its
// signature covers, unlike the X-GitHub-Delivery header.
func payloadDigest(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
