package githubtest

import (
	"net/http"
	"strconv"
	"time"
)

// ProtectionRuleCallback is one answer a custom deployment protection rule
// gave to a waiting GitHub Actions run.
type ProtectionRuleCallback struct {
	Repo        string
	RunID       int64
	Environment string
	State       string // approved or rejected
	Comment     string
	Time        time.Time
}

// ProtectionRuleCallbacks returns the protection-rule answers, oldest first.
func (s *Server) ProtectionRuleCallbacks() []ProtectionRuleCallback {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ProtectionRuleCallback(nil), s.state.callbacks...)
}

// handleProtectionRuleCallback serves
// POST /repos/{o}/{r}/actions/runs/{run}/deployment_protection_rule: 204.
func (s *Server) handleProtectionRuleCallback(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	run, err := strconv.ParseInt(r.PathValue("run"), 10, 64)
	if err != nil {
		writeNotFound(w)
		return
	}
	var req struct {
		EnvironmentName string `json:"environment_name"`
		State           string `json:"state"`
		Comment         string `json:"comment"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.State != "approved" && req.State != "rejected" {
		writeValidation(w, "DeploymentProtectionRule", "state", "invalid", "state is not included in the list")
		return
	}
	if req.EnvironmentName == "" {
		writeValidation(w, "DeploymentProtectionRule", "environment_name", "missing_field", "environment_name is missing")
		return
	}
	if p.kind != "installation" {
		writeError(w, http.StatusForbidden, "Only GitHub Apps can review custom deployment protection rules")
		return
	}
	s.state.callbacks = append(s.state.callbacks, ProtectionRuleCallback{
		Repo: rp.owner + "/" + rp.name, RunID: run, Environment: req.EnvironmentName,
		State: req.State, Comment: req.Comment, Time: s.now().UTC(),
	})
	w.WriteHeader(http.StatusNoContent)
}
