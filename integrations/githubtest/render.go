package githubtest

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"
)

// Renderers build the JSON objects GitHub returns, with the fields go-github
// and typical clients read. They run with Server.mu held.

// apiURL returns an absolute API URL for a path ("/repos/o/r").
func (s *Server) apiURL(path string) string { return s.ts.URL + path }

// htmlURL returns an absolute web URL for a path ("/o/r/pull/1").
func (s *Server) htmlURL(path string) string { return s.ts.URL + path }

// nodeID makes an opaque GraphQL node id, like GitHub's base64 ids.
func nodeID(kind string, id int64) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "0%d:%s%d", len(kind), kind, id))
}

// ts formats a time as GitHub does (RFC 3339, UTC, seconds).
func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// userJSON renders a simple user; unknown logins are created so ids stay stable.
func (s *Server) userJSON(login string) map[string]any {
	if login == "" {
		return nil
	}
	u := s.state.ensureUser(login)
	return map[string]any{
		"login": u.login, "id": u.id, "node_id": nodeID("User", u.id),
		"avatar_url":  s.htmlURL(fmt.Sprintf("/avatars/u/%d?v=4", u.id)),
		"gravatar_id": "", "url": s.apiURL("/users/" + u.login), "html_url": s.htmlURL("/" + u.login),
		"type": u.typ, "site_admin": false,
	}
}

// ownerJSON renders a repository owner (organisation or user).
func (s *Server) ownerJSON(login string) map[string]any {
	if o, ok := s.state.orgs[strings.ToLower(login)]; ok {
		return map[string]any{
			"login": o.login, "id": o.id, "node_id": nodeID("Organization", o.id),
			"url": s.apiURL("/orgs/" + o.login), "html_url": s.htmlURL("/" + o.login),
			"avatar_url": s.htmlURL(fmt.Sprintf("/avatars/u/%d?v=4", o.id)),
			"type":       "Organization", "site_admin": false,
		}
	}
	return s.userJSON(login)
}

// orgJSON renders an organisation as GET /orgs/{org} does.
func (s *Server) orgJSON(o *org) map[string]any {
	return map[string]any{
		"login": o.login, "id": o.id, "node_id": nodeID("Organization", o.id),
		"url": s.apiURL("/orgs/" + o.login), "repos_url": s.apiURL("/orgs/" + o.login + "/repos"),
		"members_url": s.apiURL("/orgs/" + o.login + "/members{/member}"),
		"avatar_url":  s.htmlURL(fmt.Sprintf("/avatars/u/%d?v=4", o.id)),
		"description": "", "name": o.login, "html_url": s.htmlURL("/" + o.login),
		"type": "Organization", "two_factor_requirement_enabled": o.twoFA,
		"created_at": ts(s.state.app.created), "updated_at": ts(s.state.app.created),
	}
}

// repoJSON renders a repository.
func (s *Server) repoJSON(r *repo) map[string]any {
	full := r.owner + "/" + r.name
	base := s.apiURL("/repos/" + full)
	return map[string]any{
		"id": r.id, "node_id": nodeID("Repository", r.id), "name": r.name, "full_name": full,
		"private": r.private, "owner": s.ownerJSON(r.owner), "html_url": s.htmlURL("/" + full),
		"description": nil, "fork": false, "url": base,
		"deployments_url": base + "/deployments", "pulls_url": base + "/pulls{/number}",
		"clone_url": s.htmlURL("/" + full + ".git"), "default_branch": r.defaultBranch,
		"visibility": map[bool]string{true: "private", false: "public"}[r.private],
		"archived":   false, "disabled": false,
		"created_at": ts(s.state.app.created), "updated_at": ts(s.state.app.created), "pushed_at": ts(s.state.app.created),
	}
}

// appJSON renders the app, as in GET /app and performed_via_github_app.
func (s *Server) appJSON() map[string]any {
	a := s.state.app
	return map[string]any{
		"id": a.id, "slug": a.slug, "node_id": nodeID("App", a.id), "client_id": a.clientID,
		"owner": s.ownerJSON(a.owner), "name": a.name, "description": "Deploys over SSH with SOC 2 evidence",
		"external_url": s.htmlURL("/"), "html_url": s.htmlURL("/apps/" + a.slug),
		"created_at": ts(a.created), "updated_at": ts(a.created),
		"permissions": appPermissions(), "events": appEvents(),
		"installations_count": len(s.state.installations),
	}
}

// appPermissions is what the fake app is granted.
func appPermissions() map[string]string {
	return map[string]string{
		"actions": "read", "checks": "read", "contents": "write", "deployments": "write",
		"issues": "write", "members": "read", "metadata": "read", "pull_requests": "write",
		"statuses": "read", "organization_administration": "read", "administration": "read",
	}
}

// appEvents is what the fake app subscribes to.
func appEvents() []string {
	return []string{"deployment", "deployment_protection_rule", "issue_comment", "membership", "organization", "pull_request", "pull_request_review"}
}

// installationJSON renders an installation.
func (s *Server) installationJSON(in *installation) map[string]any {
	targetType := "Organization"
	var targetID int64
	if o, ok := s.state.orgs[strings.ToLower(in.account)]; ok {
		targetID = o.id
	} else {
		targetType = "User"
		targetID = s.state.ensureUser(in.account).id
	}
	var suspended any
	if in.suspended {
		suspended = ts(in.created)
	}
	return map[string]any{
		"id": in.id, "account": s.ownerJSON(in.account), "app_id": s.state.app.id, "app_slug": s.state.app.slug,
		"target_id": targetID, "target_type": targetType, "repository_selection": "all",
		"access_tokens_url": s.apiURL(fmt.Sprintf("/app/installations/%d/access_tokens", in.id)),
		"repositories_url":  s.apiURL("/installation/repositories"),
		"html_url":          s.htmlURL(fmt.Sprintf("/organizations/%s/settings/installations/%d", in.account, in.id)),
		"permissions":       in.grantedPermissions(), "events": appEvents(),
		"created_at": ts(in.created), "updated_at": ts(in.created), "suspended_at": suspended,
		"single_file_name": nil,
	}
}
