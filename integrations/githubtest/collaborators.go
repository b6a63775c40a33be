package githubtest

import (
	"net/http"
	"strings"
)

// Repository roles, weakest first, and the permission GET
// .../collaborators/{user}/permission reports for each (GitHub's older
// field, which folds maintain into write and triage into read).
var (
	roleRank       = map[string]int{"": 0, "none": 0, "read": 1, "triage": 2, "write": 3, "maintain": 4, "admin": 5}
	rolePermission = map[string]string{"": "none", "none": "none", "read": "read", "triage": "read",
		"write": "write", "maintain": "write", "admin": "admin"}
)

// SetCollaborator gives login a role on the repository: read, triage,
// write, maintain or admin ("" removes it).
func (s *Server) SetCollaborator(repoName, login, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := roleRank[role]; !ok {
		panic("githubtest: SetCollaborator: unknown role " + role)
	}
	s.state.ensureUser(login)
	rp := s.mustRepo(repoName)
	if role == "" {
		delete(rp.collaborators, strings.ToLower(login))
		return
	}
	rp.collaborators[strings.ToLower(login)] = role
}

// SetBasePermission sets the role every member of org has on its
// repositories (GitHub's "base permissions"; read unless set).
func (s *Server) SetBasePermission(orgLogin, role string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := roleRank[role]; !ok {
		panic("githubtest: SetBasePermission: unknown role " + role)
	}
	s.state.ensureOrg(orgLogin).base = role
}

// roleOf is login's strongest role on rp: as a collaborator, as a member
// of the owning organisation (its base permission; organisation owners
// are admins), or as the owning user.
func (s *Server) roleOf(rp *repo, login string) string {
	k := strings.ToLower(login)
	role := rp.collaborators[k]
	stronger := func(r string) {
		if roleRank[r] > roleRank[role] {
			role = r
		}
	}
	if o, ok := s.state.orgs[strings.ToLower(rp.owner)]; ok {
		switch o.members[k] {
		case "admin":
			stronger("admin")
		case "member":
			base := o.base
			if base == "" {
				base = "read"
			}
			stronger(base)
		}
	} else if strings.EqualFold(rp.owner, login) {
		stronger("admin")
	}
	if role == "" && !rp.private {
		role = "read"
	}
	return role
}

// handleCollaboratorPermission serves GET
// /repos/{o}/{r}/collaborators/{username}/permission.
func (s *Server) handleCollaboratorPermission(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	u, ok := s.state.users[strings.ToLower(r.PathValue("username"))]
	if !ok {
		writeError(w, http.StatusNotFound, r.PathValue("username")+" is not a user")
		return
	}
	role := s.roleOf(rp, u.login)
	roleName := role
	if roleName == "" {
		roleName = "none"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"permission": rolePermission[role], "role_name": roleName, "user": s.userJSON(u.login),
	})
}

// association is the author_association GitHub puts on a comment or an
// issue by login in rp: OWNER for the repository's owner (or an owner of
// its organisation), MEMBER for an organisation member, COLLABORATOR for
// an invited collaborator, NONE otherwise.
func (s *Server) association(rp *repo, login string) string {
	k := strings.ToLower(login)
	if strings.EqualFold(rp.owner, login) {
		return "OWNER"
	}
	if o, ok := s.state.orgs[strings.ToLower(rp.owner)]; ok {
		switch o.members[k] {
		case "admin":
			return "OWNER"
		case "member":
			return "MEMBER"
		}
	}
	if _, ok := rp.collaborators[k]; ok {
		return "COLLABORATOR"
	}
	return "NONE"
}
