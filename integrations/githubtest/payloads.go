package githubtest

import (
	"fmt"
	"strings"
)

// Payloads builds webhook bodies from the real fixtures, with the repository,
// users, installation and objects of the fake's world filled in, so ids in a
// delivery match what the API answers.
type Payloads struct{ s *Server }

// Payloads returns the webhook payload builders for this server's world.
func (s *Server) Payloads() *Payloads { return &Payloads{s: s} }

// base loads a fixture and fills repository, installation, organization and
// sender. It runs with Server.mu held.
func (b *Payloads) base(event, fixture string, rp *repo, sender string) (Payload, error) {
	p, err := LoadPayload(event, fixture)
	if err != nil {
		return Payload{}, err
	}
	s := b.s
	if rp != nil {
		p.overlayAt("repository", s.repoJSON(rp))
		b.account(p, rp.owner)
	}
	if sender != "" {
		p.overlayAt("sender", s.userJSON(sender))
	}
	return p, nil
}

// account fills installation and organization for an account.
func (b *Payloads) account(p Payload, account string) {
	s := b.s
	if in := s.state.installationFor(account); in != nil {
		p.Fields["installation"] = map[string]any{"id": in.id, "node_id": nodeID("Installation", in.id)}
	}
	if o, ok := s.state.orgs[strings.ToLower(account)]; ok {
		p.overlayAt("organization", map[string]any{
			"login": o.login, "id": o.id, "node_id": nodeID("Organization", o.id),
			"url": s.apiURL("/orgs/" + o.login), "description": "",
		})
	}
}

// pullPayload builds a pull_request event for PR number of repoName.
func (b *Payloads) pullPayload(fixture, action, repoName string, number int, sender string) (Payload, *repo, error) {
	s := b.s
	rp := s.state.repo(repoName)
	if rp == nil {
		return Payload{}, nil, fmt.Errorf("%s payload: repository %s not set up", action, repoName)
	}
	p, err := b.base("pull_request", fixture, rp, sender)
	if err != nil {
		return Payload{}, nil, err
	}
	p.Fields["action"] = action
	p.Fields["number"] = number
	if is, ok := rp.issues[number]; ok && is.pr != nil {
		p.overlayAt("pull_request", s.pullJSON(rp, is))
	} else {
		_ = p.Set("pull_request.number", number)
	}
	return p, rp, nil
}

// PullRequestMerged builds pull_request "closed" with merged true, merged by
// merger into base with merge commit mergeSHA. A PR set up in the world
// supplies title, author and head; call MergePullRequest too so the API agrees.
func (b *Payloads) PullRequestMerged(repoName string, number int, mergeSHA, merger, base string) (Payload, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	p, rp, err := b.pullPayload("pull_request.closed.payload.json", "closed", repoName, number, merger)
	if err != nil {
		return Payload{}, err
	}
	now := ts(b.s.now())
	for path, v := range map[string]any{
		"pull_request.state": "closed", "pull_request.merged": true, "pull_request.merge_commit_sha": mergeSHA,
		"pull_request.merged_by": b.s.userJSON(merger), "pull_request.base.ref": base,
		"pull_request.base.label": rp.owner + ":" + base, "pull_request.merged_at": now, "pull_request.closed_at": now,
	} {
		if err := p.Set(path, v); err != nil {
			return Payload{}, err
		}
	}
	return p, nil
}

// PullRequestClosed builds pull_request "closed" without a merge.
func (b *Payloads) PullRequestClosed(repoName string, number int, closer string) (Payload, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	p, _, err := b.pullPayload("pull_request.closed.payload.json", "closed", repoName, number, closer)
	if err != nil {
		return Payload{}, err
	}
	_ = p.Set("pull_request.state", "closed")
	_ = p.Set("pull_request.merged", false)
	_ = p.Set("pull_request.merged_by", nil)
	_ = p.Set("pull_request.merged_at", nil)
	return p, nil
}

// PullRequestLabeled builds pull_request "labeled": labeler added label.
func (b *Payloads) PullRequestLabeled(repoName string, number int, label, labeler string) (Payload, error) {
	return b.labelEvent("pull_request.labeled.payload.json", "labeled", repoName, number, label, labeler)
}

// PullRequestUnlabeled builds pull_request "unlabeled".
func (b *Payloads) PullRequestUnlabeled(repoName string, number int, label, unlabeler string) (Payload, error) {
	return b.labelEvent("pull_request.unlabeled.payload.json", "unlabeled", repoName, number, label, unlabeler)
}

func (b *Payloads) labelEvent(fixture, action, repoName string, number int, label, who string) (Payload, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	p, rp, err := b.pullPayload(fixture, action, repoName, number, who)
	if err != nil {
		return Payload{}, err
	}
	p.overlayAt("label", b.s.labelJSON(rp, label))
	if is, ok := rp.issues[number]; !ok || is.pr == nil {
		_ = p.Set("pull_request.labels", []any{b.s.labelJSON(rp, label)})
	}
	return p, nil
}

// PullRequestSynchronize builds pull_request "synchronize": pusher moved the
// PR head from before to after.
func (b *Payloads) PullRequestSynchronize(repoName string, number int, before, after, pusher string) (Payload, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	p, _, err := b.pullPayload("pull_request.synchronize.payload.json", "synchronize", repoName, number, pusher)
	if err != nil {
		return Payload{}, err
	}
	p.Fields["before"], p.Fields["after"] = before, after
	return p, p.Set("pull_request.head.sha", after)
}

// DeploymentCreated builds deployment "created" for a deployment in the
// world (made with CreateDeployment or through the API).
func (b *Payloads) DeploymentCreated(repoName string, deploymentID int64) (Payload, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	rp := b.s.state.repo(repoName)
	if rp == nil {
		return Payload{}, fmt.Errorf("deployment payload: repository %s not set up", repoName)
	}
	var d *deployment
	for _, x := range rp.deployments {
		if x.ID == deploymentID {
			d = x
		}
	}
	if d == nil {
		return Payload{}, fmt.Errorf("deployment payload: no deployment %d in %s", deploymentID, repoName)
	}
	p, err := b.base("deployment", "deployment.payload.json", rp, d.Creator)
	if err != nil {
		return Payload{}, err
	}
	p.Fields["action"] = "created"
	p.overlayAt("deployment", b.s.deploymentJSON(rp, d))
	p.Fields["workflow"], p.Fields["workflow_run"] = nil, nil
	return p, nil
}

// DeploymentProtectionRule builds deployment_protection_rule "requested"
// (no fixture exists; shaped after the event's JSON schema) for a GitHub
// Actions run runID waiting on environment, deploying sha from ref. It also
// records the deployment Actions creates for the job.
func (b *Payloads) DeploymentProtectionRule(repoName string, runID int64, environment, sha, ref, requester string) (Payload, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	s := b.s
	rp := s.state.repo(repoName)
	if rp == nil {
		return Payload{}, fmt.Errorf("deployment_protection_rule payload: repository %s not set up", repoName)
	}
	d := s.newDeployment(rp, sha, ref, "deploy", environment, "", "github-actions[bot]", false, nil)
	d.Production = environment == "production"
	s.state.ensureUser("github-actions[bot]").typ = "Bot"
	p := Payload{Event: "deployment_protection_rule", Fields: map[string]any{
		"action": "requested", "environment": environment, "event": "push",
		"deployment_callback_url": s.apiURL(fmt.Sprintf("/repos/%s/%s/actions/runs/%d/deployment_protection_rule", rp.owner, rp.name, runID)),
		"pull_requests":           []any{},
	}}
	p.overlayAt("deployment", s.deploymentJSON(rp, d))
	p.overlayAt("repository", s.repoJSON(rp))
	p.overlayAt("sender", s.userJSON(requester))
	b.account(p, rp.owner)
	for _, n := range sortedKeys(rp.issues) {
		if is := rp.issues[n]; is.pr != nil && is.pr.headSHA == sha && is.state == "open" {
			p.Fields["pull_requests"] = append(p.Fields["pull_requests"].([]any), s.pullJSON(rp, is))
		}
	}
	return p, nil
}

// MembershipRemoved builds membership "removed": login left team of org,
// removed by sender.
func (b *Payloads) MembershipRemoved(org, teamSlug, login, sender string) (Payload, error) {
	return b.membership("membership.removed.payload.json", "removed", org, teamSlug, login, sender)
}

// MembershipAdded builds membership "added".
func (b *Payloads) MembershipAdded(org, teamSlug, login, sender string) (Payload, error) {
	return b.membership("membership.added.payload.json", "added", org, teamSlug, login, sender)
}

func (b *Payloads) membership(fixture, action, orgLogin, teamSlug, login, sender string) (Payload, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	p, err := b.base("membership", fixture, nil, sender)
	if err != nil {
		return Payload{}, err
	}
	p.Fields["action"], p.Fields["scope"] = action, "team"
	o := b.s.state.ensureOrg(orgLogin)
	b.account(p, o.login)
	p.overlayAt("member", b.s.userJSON(login))
	p.overlayAt("team", b.s.teamJSON(o, b.s.state.ensureTeam(orgLogin, teamSlug)))
	return p, nil
}

// OrganizationMemberRemoved builds organization "member_removed" (shaped as
// the member_added fixture, which GitHub uses for both).
func (b *Payloads) OrganizationMemberRemoved(org, login, sender string) (Payload, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	p, err := b.base("organization", "organization.member_added.payload.json", nil, sender)
	if err != nil {
		return Payload{}, err
	}
	o := b.s.state.ensureOrg(org)
	b.account(p, o.login)
	p.Fields["action"] = "member_removed"
	p.overlayAt("membership", map[string]any{
		"url": b.s.apiURL("/orgs/" + o.login + "/memberships/" + login), "state": "active", "role": "member",
		"organization_url": b.s.apiURL("/orgs/" + o.login), "user": b.s.userJSON(login),
	})
	return p, nil
}

// IssueCommentCreated builds issue_comment "created" for a comment in the
// world (AddIssueComment), on an issue or PR.
func (b *Payloads) IssueCommentCreated(repoName string, commentID int64) (Payload, error) {
	return b.issueComment("created", repoName, commentID, "")
}

// IssueCommentEdited builds issue_comment "edited"; oldBody goes into changes.
func (b *Payloads) IssueCommentEdited(repoName string, commentID int64, oldBody string) (Payload, error) {
	return b.issueComment("edited", repoName, commentID, oldBody)
}

func (b *Payloads) issueComment(action, repoName string, commentID int64, oldBody string) (Payload, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	s := b.s
	rp := s.state.repo(repoName)
	if rp == nil {
		return Payload{}, fmt.Errorf("issue_comment payload: repository %s not set up", repoName)
	}
	c, ok := rp.comments[commentID]
	if !ok {
		return Payload{}, fmt.Errorf("issue_comment payload: no comment %d in %s", commentID, repoName)
	}
	p, err := b.base("issue_comment", "issue_comment.created.payload.json", rp, c.user)
	if err != nil {
		return Payload{}, err
	}
	p.Fields["action"] = action
	p.overlayAt("comment", s.commentJSON(rp, c))
	p.overlayAt("issue", s.issueJSON(rp, rp.issues[c.issue]))
	if rp.issues[c.issue].pr == nil {
		delete(p.Fields["issue"].(map[string]any), "pull_request")
	}
	if action == "edited" {
		p.Fields["changes"] = map[string]any{"body": map[string]any{"from": oldBody}}
	}
	return p, nil
}

// InstallationCreated builds installation "created" for an installation in
// the world, sent by login.
func (b *Payloads) InstallationCreated(installationID int64, sender string) (Payload, error) {
	return b.installation("installation.created.payload.json", "created", installationID, sender)
}

// InstallationDeleted builds installation "deleted". Build it before
// RemoveInstallation, while the installation is still in the world.
func (b *Payloads) InstallationDeleted(installationID int64, sender string) (Payload, error) {
	return b.installation("installation.deleted.payload.json", "deleted", installationID, sender)
}

func (b *Payloads) installation(fixture, action string, id int64, sender string) (Payload, error) {
	b.s.mu.Lock()
	defer b.s.mu.Unlock()
	in, ok := b.s.state.installations[id]
	if !ok {
		return Payload{}, fmt.Errorf("installation payload: no installation %d", id)
	}
	p, err := b.base("installation", fixture, nil, sender)
	if err != nil {
		return Payload{}, err
	}
	p.Fields["action"] = action
	p.overlayAt("installation", b.s.installationJSON(in))
	repos := []any{}
	for _, k := range sortedKeys(b.s.state.repos) {
		if rp := b.s.state.repos[k]; strings.EqualFold(rp.owner, in.account) {
			repos = append(repos, map[string]any{"id": rp.id, "node_id": nodeID("Repository", rp.id), "name": rp.name, "full_name": rp.owner + "/" + rp.name, "private": rp.private})
		}
	}
	p.Fields["repositories"] = repos
	return p, nil
}
