package githubtest

import (
	"net/http"
	"strconv"
	"strings"
)

// orgFor finds the {org} of the path that p may see, or answers 404.
func (s *Server) orgFor(w http.ResponseWriter, r *http.Request, p principal) *org {
	o, ok := s.state.orgs[strings.ToLower(r.PathValue("org"))]
	if !ok || !s.canSeeAccount(p, o.login) {
		writeNotFound(w)
		return nil
	}
	return o
}

// handleAuthenticatedUser serves GET /user (OAuth user tokens only).
func (s *Server) handleAuthenticatedUser(w http.ResponseWriter, _ *http.Request, p principal) {
	if p.kind != "user" {
		writeError(w, http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	u := s.state.users[strings.ToLower(p.user)]
	out := s.userJSON(u.login)
	out["name"] = u.name
	out["email"] = u.email
	writeJSON(w, http.StatusOK, out)
}

// handleOwnOrgMembership serves GET /user/memberships/orgs/{org}.
func (s *Server) handleOwnOrgMembership(w http.ResponseWriter, r *http.Request, p principal) {
	if p.kind != "user" {
		writeError(w, http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	o, ok := s.state.orgs[strings.ToLower(r.PathValue("org"))]
	if !ok {
		writeNotFound(w)
		return
	}
	role, member := o.members[strings.ToLower(p.user)]
	if !member {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.orgMembershipJSON(o, p.user, role))
}

func (s *Server) orgMembershipJSON(o *org, login, role string) map[string]any {
	return map[string]any{
		"url":   s.apiURL("/orgs/" + o.login + "/memberships/" + login),
		"state": "active", "role": role, "organization_url": s.apiURL("/orgs/" + o.login),
		"organization": s.orgJSON(o), "user": s.userJSON(login),
	}
}

// handleGetUser serves GET /users/{login}.
func (s *Server) handleGetUser(w http.ResponseWriter, r *http.Request, _ principal) {
	login := r.PathValue("login")
	if o, ok := s.state.orgs[strings.ToLower(login)]; ok {
		writeJSON(w, http.StatusOK, s.ownerJSON(o.login))
		return
	}
	u, ok := s.state.users[strings.ToLower(login)]
	if !ok {
		writeNotFound(w)
		return
	}
	out := s.userJSON(u.login)
	out["name"] = u.name
	writeJSON(w, http.StatusOK, out)
}

// handleGetUserByID serves GET /user/{id}: the account that holds a
// numeric id, under its current login (ids survive renames).
func (s *Server) handleGetUserByID(w http.ResponseWriter, r *http.Request, _ principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeNotFound(w)
		return
	}
	for _, u := range s.state.users {
		if u.id == id {
			out := s.userJSON(u.login)
			out["name"] = u.name
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	writeNotFound(w)
}

// handleGetOrg serves GET /orgs/{org}.
func (s *Server) handleGetOrg(w http.ResponseWriter, r *http.Request, p principal) {
	if o := s.orgFor(w, r, p); o != nil {
		writeJSON(w, http.StatusOK, s.orgJSON(o))
	}
}

// handleListOrgMembers serves GET /orgs/{org}/members (role=all|admin|member).
func (s *Server) handleListOrgMembers(w http.ResponseWriter, r *http.Request, p principal) {
	o := s.orgFor(w, r, p)
	if o == nil {
		return
	}
	want := r.URL.Query().Get("role")
	out := []any{}
	for _, k := range sortedKeys(o.members) {
		if want == "" || want == "all" || want == o.members[k] {
			out = append(out, s.userJSON(s.state.users[k].login))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleCheckOrgMember serves GET /orgs/{org}/members/{login}: 204 or 404.
func (s *Server) handleCheckOrgMember(w http.ResponseWriter, r *http.Request, p principal) {
	o := s.orgFor(w, r, p)
	if o == nil {
		return
	}
	if _, ok := o.members[strings.ToLower(r.PathValue("login"))]; !ok {
		writeError(w, http.StatusNotFound, "User does not exist or is not a member of the organization")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleOrgMembership serves GET /orgs/{org}/memberships/{login}.
func (s *Server) handleOrgMembership(w http.ResponseWriter, r *http.Request, p principal) {
	o := s.orgFor(w, r, p)
	if o == nil {
		return
	}
	k := strings.ToLower(r.PathValue("login"))
	role, ok := o.members[k]
	if !ok {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.orgMembershipJSON(o, s.state.users[k].login, role))
}

func (s *Server) teamJSON(o *org, t *team) map[string]any {
	return map[string]any{
		"id": t.id, "node_id": nodeID("Team", t.id), "url": s.apiURL("/orgs/" + o.login + "/teams/" + t.slug),
		"html_url": s.htmlURL("/orgs/" + o.login + "/teams/" + t.slug), "name": t.name, "slug": t.slug,
		"description": "", "privacy": "closed", "notification_setting": "notifications_enabled",
		"permission": "pull", "members_count": len(t.members), "parent": nil,
		"members_url":      s.apiURL("/orgs/" + o.login + "/teams/" + t.slug + "/members{/member}"),
		"repositories_url": s.apiURL("/orgs/" + o.login + "/teams/" + t.slug + "/repos"),
	}
}

// teamFor finds {org}/{team} or answers 404.
func (s *Server) teamFor(w http.ResponseWriter, r *http.Request, p principal) (*org, *team) {
	o := s.orgFor(w, r, p)
	if o == nil {
		return nil, nil
	}
	t, ok := o.teams[strings.ToLower(r.PathValue("team"))]
	if !ok {
		writeNotFound(w)
		return nil, nil
	}
	return o, t
}

// handleListTeams serves GET /orgs/{org}/teams.
func (s *Server) handleListTeams(w http.ResponseWriter, r *http.Request, p principal) {
	o := s.orgFor(w, r, p)
	if o == nil {
		return
	}
	out := []any{}
	for _, k := range sortedKeys(o.teams) {
		out = append(out, s.teamJSON(o, o.teams[k]))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleGetTeam serves GET /orgs/{org}/teams/{team}.
func (s *Server) handleGetTeam(w http.ResponseWriter, r *http.Request, p principal) {
	if o, t := s.teamFor(w, r, p); t != nil {
		writeJSON(w, http.StatusOK, s.teamJSON(o, t))
	}
}

// handleListTeamMembers serves GET /orgs/{org}/teams/{team}/members
// (role=all|member|maintainer).
func (s *Server) handleListTeamMembers(w http.ResponseWriter, r *http.Request, p principal) {
	_, t := s.teamFor(w, r, p)
	if t == nil {
		return
	}
	want := r.URL.Query().Get("role")
	out := []any{}
	for _, k := range sortedKeys(t.members) {
		if want == "" || want == "all" || want == t.members[k] {
			out = append(out, s.userJSON(s.state.users[k].login))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleTeamMembership serves GET /orgs/{org}/teams/{team}/memberships/{login}.
func (s *Server) handleTeamMembership(w http.ResponseWriter, r *http.Request, p principal) {
	_, t := s.teamFor(w, r, p)
	if t == nil {
		return
	}
	k := strings.ToLower(r.PathValue("login"))
	role, ok := t.members[k]
	if !ok {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"url":   s.apiURL("/teams/" + itoa(t.id) + "/memberships/" + s.state.users[k].login),
		"role":  role,
		"state": "active",
	})
}
