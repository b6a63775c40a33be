package githubtest

import "net/http"

// routes registers every endpoint the fake answers. Anything else gets 404
// {"message":"Not Found"} and is marked as an unexpected call.
func (s *Server) routes() {
	m := s.mux
	const repo = "/repos/{owner}/{repo}"

	// GitHub App and installations (app JWT).
	m.HandleFunc("GET /app", s.appOnly(s.handleGetApp))
	m.HandleFunc("GET /app/installations", s.appOnly(s.handleListInstallations))
	m.HandleFunc("GET /app/installations/{id}", s.appOnly(s.handleGetInstallation))
	m.HandleFunc("POST /app/installations/{id}/access_tokens", s.appOnly(s.handleAccessToken))
	m.HandleFunc("GET "+repo+"/installation", s.appOnly(s.handleRepoInstallation))
	m.HandleFunc("GET /orgs/{org}/installation", s.appOnly(s.handleRepoInstallation))
	m.HandleFunc("GET /installation/repositories", s.tokenAuth(s.handleInstallationRepos))

	// Users, organisations and teams.
	m.HandleFunc("GET /user", s.tokenAuth(s.handleAuthenticatedUser))
	m.HandleFunc("GET /user/memberships/orgs/{org}", s.tokenAuth(s.handleOwnOrgMembership))
	m.HandleFunc("GET /users/{login}", s.tokenAuth(s.handleGetUser))
	m.HandleFunc("GET /user/{id}", s.tokenAuth(s.handleGetUserByID))
	m.HandleFunc("GET /orgs/{org}", s.tokenAuth(s.handleGetOrg))
	m.HandleFunc("GET /orgs/{org}/members", s.tokenAuth(s.handleListOrgMembers))
	m.HandleFunc("GET /orgs/{org}/members/{login}", s.tokenAuth(s.handleCheckOrgMember))
	m.HandleFunc("GET /orgs/{org}/memberships/{login}", s.tokenAuth(s.handleOrgMembership))
	m.HandleFunc("GET /orgs/{org}/teams", s.tokenAuth(s.handleListTeams))
	m.HandleFunc("GET /orgs/{org}/teams/{team}", s.tokenAuth(s.handleGetTeam))
	m.HandleFunc("GET /orgs/{org}/teams/{team}/members", s.tokenAuth(s.handleListTeamMembers))
	m.HandleFunc("GET /orgs/{org}/teams/{team}/memberships/{login}", s.tokenAuth(s.handleTeamMembership))

	// Repositories, refs, commits and branches.
	m.HandleFunc("GET "+repo, s.tokenAuth(s.handleGetRepo))
	m.HandleFunc("GET "+repo+"/commits/{ref...}", s.tokenAuth(s.handleGetCommit))
	m.HandleFunc("GET "+repo+"/compare/{basehead...}", s.tokenAuth(s.handleCompare))
	m.HandleFunc("GET "+repo+"/collaborators/{username}/permission", s.tokenAuth(s.handleCollaboratorPermission))
	m.HandleFunc("GET "+repo+"/branches", s.tokenAuth(s.handleListBranches))
	m.HandleFunc("GET "+repo+"/branches/{branch}", s.tokenAuth(s.handleGetBranch))
	m.HandleFunc("GET "+repo+"/branches/{branch}/protection", s.tokenAuth(s.handleBranchProtection))
	m.HandleFunc("GET "+repo+"/git/ref/{ref...}", s.tokenAuth(s.handleGitRef))
	m.HandleFunc("GET "+repo+"/commits/{ref}/status", s.tokenAuth(s.handleCombinedStatus))
	m.HandleFunc("GET "+repo+"/commits/{ref}/check-runs", s.tokenAuth(s.handleCheckRuns))
	m.HandleFunc("GET "+repo+"/commits/{ref}/pulls", s.tokenAuth(s.handleCommitPulls))
	m.HandleFunc("GET "+repo+"/tarball/{ref...}", s.tokenAuth(s.handleTarballLink))
	m.HandleFunc("GET "+repo+"/tarball", s.tokenAuth(s.handleTarballLink))
	m.HandleFunc("GET /_codeload/{owner}/{repo}/legacy.tar.gz/{sha}", s.handleTarballDownload)
	m.HandleFunc("GET "+repo+"/contents/{path...}", s.tokenAuth(s.handleGetContents))
	m.HandleFunc("GET "+repo+"/git/trees/{sha}", s.tokenAuthThen(s.handleGetTree))
	m.HandleFunc("GET "+repo+"/git/blobs/{sha}", s.tokenAuthThen(s.handleGetBlob))
	m.HandleFunc("PUT "+repo+"/contents/{path...}", s.tokenAuth(s.handlePutContents))

	// Pull requests and reviews.
	m.HandleFunc("GET "+repo+"/pulls", s.tokenAuth(s.handleListPulls))
	m.HandleFunc("GET "+repo+"/pulls/{number}", s.tokenAuth(s.handleGetPull))
	m.HandleFunc("GET "+repo+"/pulls/{number}/reviews", s.tokenAuth(s.handleListReviews))
	m.HandleFunc("GET "+repo+"/pulls/{number}/commits", s.tokenAuth(s.handleListPullCommits))

	// Deployments.
	m.HandleFunc("POST "+repo+"/deployments", s.tokenAuth(s.handleCreateDeployment))
	m.HandleFunc("GET "+repo+"/deployments", s.tokenAuth(s.handleListDeployments))
	m.HandleFunc("GET "+repo+"/deployments/{id}", s.tokenAuth(s.handleGetDeployment))
	m.HandleFunc("POST "+repo+"/deployments/{id}/statuses", s.tokenAuth(s.handleCreateDeploymentStatus))
	m.HandleFunc("GET "+repo+"/deployments/{id}/statuses", s.tokenAuth(s.handleListDeploymentStatuses))
	m.HandleFunc("POST "+repo+"/actions/runs/{run}/deployment_protection_rule", s.tokenAuth(s.handleProtectionRuleCallback))

	// Issues, comments, reactions and labels.
	m.HandleFunc("POST "+repo+"/issues", s.tokenAuth(s.handleCreateIssue))
	m.HandleFunc("GET "+repo+"/issues/{number}", s.tokenAuth(s.handleGetIssue))
	// One pattern for the three GETs: ServeMux would reject
	// issues/comments/{id} and issues/{number}/comments as conflicting.
	m.HandleFunc("GET "+repo+"/issues/{number}/{sub}", s.tokenAuth(s.handleIssueSubresource))
	m.HandleFunc("POST "+repo+"/issues/{number}/comments", s.tokenAuth(s.handleCreateComment))
	m.HandleFunc("PATCH "+repo+"/issues/comments/{id}", s.tokenAuth(s.handleEditComment))
	m.HandleFunc("POST "+repo+"/issues/comments/{id}/reactions", s.tokenAuth(s.handleCreateReaction))
	m.HandleFunc("GET "+repo+"/issues/comments/{id}/reactions", s.tokenAuth(s.handleListReactions))
	m.HandleFunc("POST "+repo+"/issues/{number}/labels", s.tokenAuth(s.handleAddLabels))
	m.HandleFunc("DELETE "+repo+"/issues/{number}/labels/{name}", s.tokenAuth(s.handleRemoveLabel))

	// OAuth web flow and the app manifest flow (browser-facing, no API auth).
	m.HandleFunc("GET /login/oauth/authorize", s.handleAuthorize)
	m.HandleFunc("POST /login/oauth/authorize", s.handleAuthorizeForm)
	m.HandleFunc("POST /login/oauth/access_token", s.handleAccessTokenExchange)
	m.HandleFunc("POST /settings/apps/new", s.handleManifestForm)
	m.HandleFunc("POST /organizations/{org}/settings/apps/new", s.handleManifestForm)
	m.HandleFunc("POST /app-manifests/{code}/conversions", s.handleManifestConversion)

	m.HandleFunc("/", s.handleUnknown)
}

// handleUnknown answers routes the fake does not implement.
func (s *Server) handleUnknown(w http.ResponseWriter, r *http.Request) {
	s.rec.unrouted(r)
	writeNotFound(w)
}

// handleIssueSubresource dispatches GET issues/comments/{id},
// issues/{number}/comments and issues/{number}/labels.
func (s *Server) handleIssueSubresource(w http.ResponseWriter, r *http.Request, p principal) {
	switch {
	case r.PathValue("number") == "comments":
		r.SetPathValue("id", r.PathValue("sub"))
		s.handleGetComment(w, r, p)
	case r.PathValue("sub") == "comments":
		s.handleListComments(w, r, p)
	case r.PathValue("sub") == "labels":
		s.handleListLabels(w, r, p)
	default:
		s.rec.unrouted(r)
		writeNotFound(w)
	}
}
