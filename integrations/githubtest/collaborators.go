package githubtest

import (
	"net/http"
	"strings"
)

// AddCollaborator gives login a permission on a repository ("read",
// "triage", "write", "maintain" or "admin"), as an outside collaborator
// invited to it.
func (s *Server) AddCollaborator(repoName, login, permission string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(repoName)
	s.state.ensureUser(login)
	if rp.collaborators == nil {
		rp.collaborators = map[string]string{}
	}
	rp.collaborators[strings.ToLower(login)] = permission
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

// permission is what GitHub's collaborator permission endpoint says of
// login on rp: admin for the owner and organisation owners, the invited
// permission for a collaborator, read for another organisation member,
// none otherwise.
func (s *Server) permission(rp *repo, login string) string {
	switch s.association(rp, login) {
	case "OWNER":
		return "admin"
	case "COLLABORATOR":
		return rp.collaborators[strings.ToLower(login)]
	case "MEMBER":
		if p, ok := rp.collaborators[strings.ToLower(login)]; ok {
			return p
		}
		return "read"
	}
	return "none"
}

// handleCollaboratorPermission serves GET
// /repos/{o}/{r}/collaborators/{login}/permission.
func (s *Server) handleCollaboratorPermission(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	login := r.PathValue("login")
	u, ok := s.state.users[strings.ToLower(login)]
	if !ok {
		writeError(w, http.StatusNotFound, "Not Found")
		return
	}
	perm := s.permission(rp, u.login)
	role := perm
	writeJSON(w, http.StatusOK, map[string]any{"permission": legacyPermission(perm), "role_name": role, "user": s.userJSON(u.login)})
}

// legacyPermission maps a role to the permission field GitHub still
// returns (admin, write, read or none): maintain reads write, triage read.
func legacyPermission(role string) string {
	switch role {
	case "maintain":
		return "write"
	case "triage":
		return "read"
	}
	return role
}
