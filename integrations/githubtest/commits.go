package githubtest

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// itoa formats an id.
func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// repoFor finds {owner}/{repo} of the path that p may see, or answers 404
// (GitHub hides repositories an installation cannot reach).
func (s *Server) repoFor(w http.ResponseWriter, r *http.Request, p principal) *repo {
	rp := s.state.repo(r.PathValue("owner") + "/" + r.PathValue("repo"))
	if rp == nil || !s.canSeeAccount(p, rp.owner) {
		writeNotFound(w)
		return nil
	}
	return rp
}

// resolve turns a ref (branch, tag, refs/heads/x, refs/tags/x, full or
// abbreviated SHA of at least 4 hex digits) into a known commit SHA.
func (rp *repo) resolve(ref string) (string, bool) {
	switch {
	case strings.HasPrefix(ref, "refs/heads/"):
		sha, ok := rp.branches[strings.TrimPrefix(ref, "refs/heads/")]
		return sha, ok
	case strings.HasPrefix(ref, "refs/tags/"):
		sha, ok := rp.tags[strings.TrimPrefix(ref, "refs/tags/")]
		return sha, ok
	case strings.HasPrefix(ref, "heads/"):
		return rp.resolve("refs/" + ref)
	}
	if sha, ok := rp.branches[ref]; ok {
		return sha, true
	}
	if sha, ok := rp.tags[ref]; ok {
		return sha, true
	}
	if _, ok := rp.commits[ref]; ok {
		return ref, true
	}
	if len(ref) >= 4 && isHex(ref) {
		var found string
		for sha := range rp.commits {
			if strings.HasPrefix(sha, ref) {
				if found != "" {
					return "", false // ambiguous
				}
				found = sha
			}
		}
		return found, found != ""
	}
	return "", false
}

func isHex(s string) bool {
	for _, c := range s {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}

// ancestors returns the set of commits reachable from sha, sha included.
func (rp *repo) ancestors(sha string) map[string]bool {
	seen := map[string]bool{}
	stack := []string{sha}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[c] {
			continue
		}
		seen[c] = true
		if cm, ok := rp.commits[c]; ok {
			stack = append(stack, cm.parents...)
		}
	}
	return seen
}

// handleGetRepo serves GET /repos/{owner}/{repo}.
func (s *Server) handleGetRepo(w http.ResponseWriter, r *http.Request, p principal) {
	if rp := s.repoFor(w, r, p); rp != nil {
		writeJSON(w, http.StatusOK, s.repoJSON(rp))
	}
}

// commitJSON renders a commit as GET /repos/{o}/{r}/commits/{ref} does.
func (s *Server) commitJSON(rp *repo, sha string) map[string]any {
	cm := rp.commits[sha]
	base := s.apiURL("/repos/" + rp.owner + "/" + rp.name)
	parents := []any{}
	for _, p := range cm.parents {
		parents = append(parents, map[string]any{"sha": p, "url": base + "/commits/" + p, "html_url": s.htmlURL("/" + rp.owner + "/" + rp.name + "/commit/" + p)})
	}
	sig := map[string]any{"name": cm.author, "email": strings.ToLower(cm.author) + "@users.noreply.example", "date": ts(cm.at)}
	return map[string]any{
		"sha": sha, "node_id": "C_" + sha, "url": base + "/commits/" + sha,
		"html_url": s.htmlURL("/" + rp.owner + "/" + rp.name + "/commit/" + sha),
		"commit": map[string]any{
			"author": sig, "committer": sig, "message": cm.message,
			"tree": map[string]any{"sha": cm.treeSHA(), "url": base + "/git/trees/" + cm.treeSHA()},
			"url":  base + "/git/commits/" + sha, "comment_count": 0,
		},
		"author": s.userJSON(cm.author), "committer": s.userJSON(cm.author), "parents": parents,
	}
}

// handleGetCommit serves GET /repos/{o}/{r}/commits/{ref}, including the
// application/vnd.github.sha media type that answers the bare SHA.
func (s *Server) handleGetCommit(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	ref := r.PathValue("ref")
	sha, ok := rp.resolve(ref)
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+ref)
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "application/vnd.github.v3.sha") || strings.Contains(r.Header.Get("Accept"), "application/vnd.github.sha") {
		etag := `"` + sha + `"`
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/vnd.github.sha; charset=utf-8")
		_, _ = w.Write([]byte(sha))
		return
	}
	writeJSON(w, http.StatusOK, s.commitJSON(rp, sha))
}

// handleCompare serves GET /repos/{o}/{r}/compare/{base}...{head}: status is
// identical, ahead (head contains base), behind (base contains head) or
// diverged, as GitHub reports it.
func (s *Server) handleCompare(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	baseRef, headRef, ok := strings.Cut(r.PathValue("basehead"), "...")
	if !ok {
		writeNotFound(w)
		return
	}
	baseSHA, ok1 := rp.resolve(baseRef)
	headSHA, ok2 := rp.resolve(headRef)
	if !ok1 || !ok2 {
		writeNotFound(w)
		return
	}
	fromBase, fromHead := rp.ancestors(baseSHA), rp.ancestors(headSHA)
	var ahead, behind []string
	for c := range fromHead {
		if !fromBase[c] {
			ahead = append(ahead, c)
		}
	}
	for c := range fromBase {
		if !fromHead[c] {
			behind = append(behind, c)
		}
	}
	slices.SortFunc(ahead, func(a, b string) int { return rp.commits[a].at.Compare(rp.commits[b].at) })
	status := "diverged"
	switch {
	case len(ahead) == 0 && len(behind) == 0:
		status = "identical"
	case len(behind) == 0:
		status = "ahead"
	case len(ahead) == 0:
		status = "behind"
	}
	commits := []any{}
	for _, c := range ahead {
		commits = append(commits, s.commitJSON(rp, c))
	}
	base := "/" + rp.owner + "/" + rp.name
	writeJSON(w, http.StatusOK, map[string]any{
		"url":               s.apiURL("/repos" + base + "/compare/" + baseRef + "..." + headRef),
		"html_url":          s.htmlURL(base + "/compare/" + baseRef + "..." + headRef),
		"permalink_url":     s.htmlURL(base + "/compare/" + rp.owner + ":" + short(baseSHA) + "..." + rp.owner + ":" + short(headSHA)),
		"base_commit":       s.commitJSON(rp, baseSHA),
		"merge_base_commit": s.commitJSON(rp, mergeBase(rp, fromBase, headSHA)),
		"status":            status, "ahead_by": len(ahead), "behind_by": len(behind),
		"total_commits": len(ahead), "commits": commits, "files": []any{},
	})
}

// mergeBase finds the newest commit reachable from head that base also reaches.
func mergeBase(rp *repo, fromBase map[string]bool, head string) string {
	queue := []string{head}
	seen := map[string]bool{}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if fromBase[c] {
			return c
		}
		if seen[c] {
			continue
		}
		seen[c] = true
		if cm, ok := rp.commits[c]; ok {
			queue = append(queue, cm.parents...)
		}
	}
	return head
}

// handleGetBranch serves GET /repos/{o}/{r}/branches/{branch}.
func (s *Server) handleGetBranch(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	name := r.PathValue("branch")
	sha, ok := rp.branches[name]
	if !ok {
		writeError(w, http.StatusNotFound, "Branch not found")
		return
	}
	_, protected := rp.protection[name]
	writeJSON(w, http.StatusOK, map[string]any{
		"name": name, "commit": s.commitJSON(rp, sha), "protected": protected,
		"protection_url": s.apiURL("/repos/" + rp.owner + "/" + rp.name + "/branches/" + name + "/protection"),
		"_links": map[string]any{
			"self": s.apiURL("/repos/" + rp.owner + "/" + rp.name + "/branches/" + name),
			"html": s.htmlURL("/" + rp.owner + "/" + rp.name + "/tree/" + name),
		},
	})
}

// handleGitRef serves GET /repos/{o}/{r}/git/ref/heads/{b} and tags/{t}.
func (s *Server) handleGitRef(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	ref := r.PathValue("ref")
	var sha string
	var ok bool
	switch {
	case strings.HasPrefix(ref, "heads/"):
		sha, ok = rp.branches[strings.TrimPrefix(ref, "heads/")]
	case strings.HasPrefix(ref, "tags/"):
		sha, ok = rp.tags[strings.TrimPrefix(ref, "tags/")]
	}
	if !ok {
		writeNotFound(w)
		return
	}
	base := s.apiURL("/repos/" + rp.owner + "/" + rp.name)
	writeJSON(w, http.StatusOK, map[string]any{
		"ref": "refs/" + ref, "node_id": nodeID("Ref", rp.id), "url": base + "/git/refs/" + ref,
		"object": map[string]any{"type": "commit", "sha": sha, "url": base + "/git/commits/" + sha},
	})
}

// handleBranchProtection serves GET /repos/{o}/{r}/branches/{b}/protection.
func (s *Server) handleBranchProtection(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	name := r.PathValue("branch")
	if _, ok := rp.branches[name]; !ok {
		writeError(w, http.StatusNotFound, "Branch not found")
		return
	}
	bp, ok := rp.protection[name]
	if !ok {
		writeError(w, http.StatusNotFound, "Branch not protected")
		return
	}
	u := s.apiURL("/repos/" + rp.owner + "/" + rp.name + "/branches/" + name + "/protection")
	out := map[string]any{
		"url":                              u,
		"enforce_admins":                   map[string]any{"url": u + "/enforce_admins", "enabled": bp.EnforceAdmins},
		"allow_force_pushes":               map[string]any{"enabled": bp.AllowForcePushes},
		"allow_deletions":                  map[string]any{"enabled": bp.AllowDeletions},
		"required_linear_history":          map[string]any{"enabled": bp.RequiredLinearHistory},
		"required_conversation_resolution": map[string]any{"enabled": false},
		"lock_branch":                      map[string]any{"enabled": false},
		"allow_fork_syncing":               map[string]any{"enabled": false},
		"required_signatures":              map[string]any{"url": u + "/required_signatures", "enabled": false},
	}
	if bp.RequiredApprovingReviews > 0 {
		out["required_pull_request_reviews"] = map[string]any{
			"url":                             u + "/required_pull_request_reviews",
			"dismiss_stale_reviews":           bp.DismissStaleReviews,
			"require_code_owner_reviews":      bp.RequireCodeOwnerReviews,
			"required_approving_review_count": bp.RequiredApprovingReviews,
			"require_last_push_approval":      false,
		}
	}
	if bp.RequiredStatusChecks != nil {
		checks := []any{}
		for _, c := range bp.RequiredStatusChecks {
			checks = append(checks, map[string]any{"context": c, "app_id": nil})
		}
		out["required_status_checks"] = map[string]any{
			"url": u + "/required_status_checks", "strict": bp.StrictStatusChecks,
			"contexts": bp.RequiredStatusChecks, "checks": checks,
			"contexts_url": u + "/required_status_checks/contexts",
		}
	}
	writeJSON(w, http.StatusOK, out)
}
