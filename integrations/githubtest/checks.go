package githubtest

import (
	"fmt"
	"net/http"
	"strings"
)

// SetStatus adds a commit status (state: error, failure, pending, success)
// for context on sha; the newest status per context counts, as on GitHub.
func (s *Server) SetStatus(repoName, sha, context, state string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch state {
	case "error", "failure", "pending", "success":
	default:
		panic(fmt.Sprintf("githubtest: SetStatus state %q: want error, failure, pending or success", state))
	}
	rp := s.mustRepo(repoName)
	rp.statuses[sha] = append(rp.statuses[sha], &commitStatus{
		id: s.state.newID(), state: state, context: context, description: context + " " + state,
		targetURL: s.htmlURL("/ci/" + short(sha)), creator: "ci-bot", at: s.now().UTC(),
	})
}

// SetCheckRun sets the check run called name on sha (replacing an earlier
// one of that name). status: queued, in_progress, completed; conclusion (when
// completed): success, failure, neutral, cancelled, skipped, timed_out,
// action_required.
func (s *Server) SetCheckRun(repoName, sha, name, status, conclusion string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(repoName)
	runs := rp.checkRuns[sha]
	for _, c := range runs {
		if c.name == name {
			c.status, c.conclusion, c.at = status, conclusion, s.now().UTC()
			return
		}
	}
	rp.checkRuns[sha] = append(runs, &checkRun{id: s.state.newID(), name: name, status: status, conclusion: conclusion, at: s.now().UTC()})
}

// handleCombinedStatus serves GET /repos/{o}/{r}/commits/{ref}/status.
func (s *Server) handleCombinedStatus(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	sha, ok := rp.resolve(r.PathValue("ref"))
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+r.PathValue("ref"))
		return
	}
	latest := latestStatuses(rp.statuses[sha])
	state := combinedState(latest)
	list := []any{}
	for _, st := range latest {
		list = append(list, map[string]any{
			"url": s.apiURL("/repos/" + rp.owner + "/" + rp.name + "/statuses/" + sha), "id": st.id,
			"node_id": nodeID("StatusContext", st.id), "state": st.state, "description": st.description,
			"target_url": st.targetURL, "context": st.context, "avatar_url": nil,
			"created_at": ts(st.at), "updated_at": ts(st.at),
		})
	}
	base := s.apiURL("/repos/" + rp.owner + "/" + rp.name)
	writeJSON(w, http.StatusOK, map[string]any{
		"state": state, "statuses": list, "sha": sha, "total_count": len(list),
		"repository": s.repoJSON(rp), "commit_url": base + "/commits/" + sha,
		"url": base + "/commits/" + sha + "/status",
	})
}

// latestStatuses keeps the newest status per context, newest first.
func latestStatuses(all []*commitStatus) []*commitStatus {
	seen := map[string]bool{}
	var out []*commitStatus
	for i := len(all) - 1; i >= 0; i-- {
		if !seen[all[i].context] {
			seen[all[i].context] = true
			out = append(out, all[i])
		}
	}
	return out
}

// combinedState is GitHub's rule: failure if any error or failure, pending
// if none or any pending, else success.
func combinedState(latest []*commitStatus) string {
	if len(latest) == 0 {
		return "pending"
	}
	state := "success"
	for _, st := range latest {
		switch st.state {
		case "error", "failure":
			return "failure"
		case "pending":
			state = "pending"
		}
	}
	return state
}

// handleCheckRuns serves GET /repos/{o}/{r}/commits/{ref}/check-runs
// (check_name and status filters).
func (s *Server) handleCheckRuns(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	sha, ok := rp.resolve(r.PathValue("ref"))
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+r.PathValue("ref"))
		return
	}
	q := r.URL.Query()
	list := []any{}
	for _, c := range rp.checkRuns[sha] {
		if (q.Get("check_name") != "" && q.Get("check_name") != c.name) || (q.Get("status") != "" && q.Get("status") != c.status) {
			continue
		}
		var conclusion, completed any
		if c.status == "completed" {
			conclusion, completed = c.conclusion, ts(c.at)
		}
		base := s.apiURL("/repos/" + rp.owner + "/" + rp.name)
		list = append(list, map[string]any{
			"id": c.id, "node_id": nodeID("CheckRun", c.id), "head_sha": sha, "external_id": "",
			"url": base + "/check-runs/" + itoa(c.id), "html_url": s.htmlURL("/" + rp.owner + "/" + rp.name + "/runs/" + itoa(c.id)),
			"details_url": s.htmlURL("/ci/" + itoa(c.id)), "status": c.status, "conclusion": conclusion,
			"started_at": ts(c.at), "completed_at": completed, "name": c.name,
			"output":      map[string]any{"title": c.name, "summary": "", "text": nil, "annotations_count": 0},
			"check_suite": map[string]any{"id": c.id + 1}, "pull_requests": []any{},
			"app": map[string]any{"id": 15368, "slug": "github-actions", "name": "GitHub Actions"},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(list), "check_runs": list})
}

// lowerEq compares logins case-insensitively.
func lowerEq(a, b string) bool { return strings.EqualFold(a, b) }
