package githubtest

import (
	"fmt"
	"strings"
)

// AddInstallation installs the app on an account (organisation or user) and
// returns the installation id. Repositories of that account become reachable
// with the installation's tokens.
func (s *Server) AddInstallation(account string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.state.installationFor(account); in != nil {
		return in.id
	}
	if _, isUser := s.state.users[strings.ToLower(account)]; !isUser {
		s.state.ensureOrg(account)
	}
	in := &installation{id: s.state.newID(), account: account, created: s.now().UTC()}
	s.state.installations[in.id] = in
	return in.id
}

// RemoveInstallation uninstalls the app; its tokens stop working at once.
func (s *Server) RemoveInstallation(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.state.installations, id)
	for v, t := range s.state.tokens {
		if t.installationID == id {
			delete(s.state.tokens, v)
		}
	}
}

// SuspendInstallation makes token requests for the installation answer 403.
func (s *Server) SuspendInstallation(id int64, suspended bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in, ok := s.state.installations[id]; ok {
		in.suspended = suspended
	}
}

// AddUser creates a user (if new) and returns its numeric id.
func (s *Server) AddUser(login string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.ensureUser(login).id
}

// AddBot creates a bot account (another GitHub App's "<slug>[bot]", or
// github-actions[bot]) and returns its numeric id: its comments and
// deployments carry type "Bot" but not this fake's App.
func (s *Server) AddBot(login string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.state.ensureUser(login)
	u.typ = "Bot"
	return u.id
}

// UserID returns a user's numeric id, or 0 if no such user exists.
func (s *Server) UserID(login string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.state.users[strings.ToLower(login)]; ok {
		return u.id
	}
	return 0
}

// RenameUser changes a login and keeps the numeric id, as GitHub does.
func (s *Server) RenameUser(oldLogin, newLogin string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.state.users[strings.ToLower(oldLogin)]
	if !ok {
		return fmt.Errorf("rename user %q: no such user", oldLogin)
	}
	if _, taken := s.state.users[strings.ToLower(newLogin)]; taken {
		return fmt.Errorf("rename user %q: login %q is taken", oldLogin, newLogin)
	}
	delete(s.state.users, strings.ToLower(oldLogin))
	u.login = newLogin
	s.state.users[strings.ToLower(newLogin)] = u
	for _, o := range s.state.orgs {
		renameKey(o.members, oldLogin, newLogin)
		for _, t := range o.teams {
			renameKey(t.members, oldLogin, newLogin)
		}
	}
	return nil
}

// DeleteUser removes a user and its memberships. Creating the login again
// gives a new numeric id, as on GitHub.
func (s *Server) DeleteUser(login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := strings.ToLower(login)
	delete(s.state.users, k)
	for _, o := range s.state.orgs {
		delete(o.members, k)
		for _, t := range o.teams {
			delete(t.members, k)
		}
	}
}

func renameKey(m map[string]string, from, to string) {
	if v, ok := m[strings.ToLower(from)]; ok {
		delete(m, strings.ToLower(from))
		m[strings.ToLower(to)] = v
	}
}

// AddOrgMember makes login a member of org with role "member" or "admin".
func (s *Server) AddOrgMember(orgLogin, login, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if role == "" {
		role = "member"
	}
	s.state.ensureUser(login)
	s.state.ensureOrg(orgLogin).members[strings.ToLower(login)] = role
}

// RemoveOrgMember removes login from org and from all of its teams.
func (s *Server) RemoveOrgMember(orgLogin, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.state.ensureOrg(orgLogin)
	delete(o.members, strings.ToLower(login))
	for _, t := range o.teams {
		delete(t.members, strings.ToLower(login))
	}
}

// SetOrgTwoFactorRequired sets the org's two_factor_requirement_enabled.
func (s *Server) SetOrgTwoFactorRequired(orgLogin string, required bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.ensureOrg(orgLogin).twoFA = required
}

// AddTeam creates a team (if new) in org and returns its id.
func (s *Server) AddTeam(orgLogin, slug string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state.ensureTeam(orgLogin, slug).id
}

// SetTeamMember makes login an active team member with role "member" (the
// default) or "maintainer"; the user, org membership and team are created
// as needed.
func (s *Server) SetTeamMember(orgLogin, teamSlug, login, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if role == "" {
		role = "member"
	}
	s.state.ensureUser(login)
	o := s.state.ensureOrg(orgLogin)
	if _, ok := o.members[strings.ToLower(login)]; !ok {
		o.members[strings.ToLower(login)] = "member"
	}
	s.state.ensureTeam(orgLogin, teamSlug).members[strings.ToLower(login)] = role
}

// RemoveTeamMember removes login from a team (the org membership stays).
func (s *Server) RemoveTeamMember(orgLogin, teamSlug, login string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.state.ensureTeam(orgLogin, teamSlug).members, strings.ToLower(login))
}

func (w *world) ensureTeam(orgLogin, slug string) *team {
	o := w.ensureOrg(orgLogin)
	k := strings.ToLower(slug)
	if t, ok := o.teams[k]; ok {
		return t
	}
	t := &team{id: w.newID(), slug: k, name: slug, members: map[string]string{}}
	o.teams[k] = t
	return t
}

// AddRepo creates a repository "owner/name" with default branch "main" and
// returns its id. The owner becomes an organisation unless it is a user.
func (s *Server) AddRepo(fullName string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.state.repo(fullName); r != nil {
		return r.id
	}
	owner, name, ok := strings.Cut(fullName, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		panic(fmt.Sprintf("githubtest: AddRepo(%q): want owner/name", fullName))
	}
	if _, isUser := s.state.users[strings.ToLower(owner)]; !isUser {
		s.state.ensureOrg(owner)
	}
	r := &repo{
		id: s.state.newID(), owner: owner, name: name, defaultBranch: "main", private: true,
		commits: map[string]*commit{}, branches: map[string]string{}, tags: map[string]string{},
		protection: map[string]BranchProtection{}, issues: map[int]*issue{}, nextNumber: 1,
		comments: map[int64]*comment{}, statuses: map[string][]*commitStatus{},
		checkRuns: map[string][]*checkRun{}, tarballs: map[string][]byte{}, git: newGitObjects(),
		files: map[string]map[string][]byte{}, collaborators: map[string]string{},
	}
	s.state.repos[strings.ToLower(fullName)] = r
	return r.id
}

// SetDefaultBranch changes a repository's default branch.
func (s *Server) SetDefaultBranch(repoName, branch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepo(repoName).defaultBranch = branch
}

// mustRepo finds a repository that a test set up; a typo is a test bug.
func (s *Server) mustRepo(fullName string) *repo {
	r := s.state.repo(fullName)
	if r == nil {
		panic(fmt.Sprintf("githubtest: repository %q not set up (call AddRepo first)", fullName))
	}
	return r
}

// AddCommit adds sha on top of branch (its parent is the branch's head) and
// moves the branch head to it, creating the branch if needed. If sha already
// exists (e.g. on another branch) the branch head simply moves to it.
func (s *Server) AddCommit(repoName, branch, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.mustRepo(repoName)
	s.addCommit(r, branch, sha, "Commit "+short(sha), "")
}

// addCommit is AddCommit with the lock held; extra parents make a merge.
func (s *Server) addCommit(r *repo, branch, sha, message, author string, extraParents ...string) {
	if _, exists := r.commits[sha]; !exists {
		var parents []string
		if head, ok := r.branches[branch]; ok {
			parents = append(parents, head)
		}
		parents = append(parents, extraParents...)
		if author == "" {
			author = "octocat"
		}
		r.commits[sha] = &commit{sha: sha, parents: parents, message: message, author: author, at: s.now().UTC()}
	}
	r.branches[branch] = sha
}

// AddTag points a tag at sha.
func (s *Server) AddTag(repoName, tag, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepo(repoName).tags[tag] = sha
}

// BranchHead returns a branch's head SHA ("" if no such branch).
func (s *Server) BranchHead(repoName, branch string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mustRepo(repoName).branches[branch]
}

// BranchProtection is the part of a branch protection rule the fake serves.
type BranchProtection struct {
	RequiredApprovingReviews int      // required_pull_request_reviews.required_approving_review_count; 0 = reviews not required
	DismissStaleReviews      bool     // dismiss_stale_reviews
	RequireCodeOwnerReviews  bool     // require_code_owner_reviews
	RequiredStatusChecks     []string // required_status_checks.contexts; nil = not required
	StrictStatusChecks       bool     // required_status_checks.strict
	EnforceAdmins            bool     // enforce_admins.enabled
	AllowForcePushes         bool     // allow_force_pushes.enabled
	AllowDeletions           bool     // allow_deletions.enabled
	RequiredLinearHistory    bool     // required_linear_history.enabled
}

// SetBranchProtection protects a branch; RemoveBranchProtection undoes it.
func (s *Server) SetBranchProtection(repoName, branch string, p BranchProtection) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustRepo(repoName).protection[branch] = p
}

// RemoveBranchProtection makes the branch unprotected (the API answers 404
// "Branch not protected").
func (s *Server) RemoveBranchProtection(repoName, branch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.mustRepo(repoName).protection, branch)
}
