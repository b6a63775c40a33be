package githubtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Deployment is a deployment as GitHub holds it, for assertions.
type Deployment struct {
	ID          int64
	SHA         string
	Ref         string
	Task        string
	Environment string
	Description string
	Creator     string // login; the app acts as "<slug>[bot]"
	ViaApp      bool   // created with an installation token
	Payload     json.RawMessage
	Transient   bool
	Production  bool
	CreatedAt   time.Time
	Statuses    []DeploymentStatus // oldest first
}

// DeploymentStatus is one status of a deployment.
type DeploymentStatus struct {
	ID             int64
	State          string
	Description    string
	LogURL         string
	EnvironmentURL string
	Environment    string
	Creator        string
	CreatedAt      time.Time
}

type deployment struct {
	Deployment
	origEnv string
}

// deploymentRequest is the body of POST /repos/{o}/{r}/deployments.
type deploymentRequest struct {
	Ref                   string          `json:"ref"`
	Task                  *string         `json:"task"`
	AutoMerge             *bool           `json:"auto_merge"`
	RequiredContexts      *[]string       `json:"required_contexts"`
	Payload               json.RawMessage `json:"payload"`
	Environment           *string         `json:"environment"`
	Description           *string         `json:"description"`
	TransientEnvironment  *bool           `json:"transient_environment"`
	ProductionEnvironment *bool           `json:"production_environment"`
}

// deploymentStatusRequest is the body of POST .../deployments/{id}/statuses.
type deploymentStatusRequest struct {
	State          string `json:"state"`
	TargetURL      string `json:"target_url"`
	LogURL         string `json:"log_url"`
	Description    string `json:"description"`
	Environment    string `json:"environment"`
	EnvironmentURL string `json:"environment_url"`
	AutoInactive   *bool  `json:"auto_inactive"`
}

// CreateDeployment makes a deployment as creator would through the API or
// UI (not as the app), returning its id; ref must resolve.
func (s *Server) CreateDeployment(repoName, ref, environment, creator string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(repoName)
	sha, ok := rp.resolve(ref)
	if !ok {
		return 0, fmt.Errorf("create deployment on %s: no ref %q", repoName, ref)
	}
	d := s.newDeployment(rp, sha, ref, "deploy", environment, "", creator, false, nil)
	d.Production = environment == "production"
	return d.ID, nil
}

func (s *Server) newDeployment(rp *repo, sha, ref, task, env, desc, creator string, viaApp bool, payload json.RawMessage) *deployment {
	if len(payload) == 0 {
		payload = json.RawMessage(`{}`)
	}
	d := &deployment{Deployment: Deployment{
		ID: s.state.newID(), SHA: sha, Ref: ref, Task: task, Environment: env, Description: desc,
		Creator: creator, ViaApp: viaApp, Payload: payload, CreatedAt: s.now().UTC(),
	}, origEnv: env}
	rp.deployments = append(rp.deployments, d)
	return d
}

// Deployments returns a repository's deployments, oldest first.
func (s *Server) Deployments(repoName string) []Deployment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Deployment
	for _, d := range s.mustRepo(repoName).deployments {
		c := d.Deployment
		c.Statuses = slices.Clone(d.Statuses)
		out = append(out, c)
	}
	return out
}

// DeploymentStatuses returns the states of a deployment's statuses in the
// order they were created (e.g. queued, in_progress, success).
func (s *Server) DeploymentStatuses(repoName string, deploymentID int64) []string {
	var out []string
	for _, d := range s.Deployments(repoName) {
		if d.ID == deploymentID {
			for _, st := range d.Statuses {
				out = append(out, st.State)
			}
		}
	}
	return out
}

func (s *Server) deploymentJSON(rp *repo, d *deployment) map[string]any {
	api := s.apiURL("/repos/" + rp.owner + "/" + rp.name)
	var via any
	if d.ViaApp {
		via = s.appJSON()
	}
	return map[string]any{
		"url": api + "/deployments/" + itoa(d.ID), "id": d.ID, "node_id": nodeID("Deployment", d.ID),
		"sha": d.SHA, "ref": d.Ref, "task": d.Task, "payload": d.Payload, "original_environment": d.origEnv,
		"environment": d.Environment, "description": nullable(d.Description), "creator": s.userJSON(d.Creator),
		"created_at": ts(d.CreatedAt), "updated_at": ts(d.CreatedAt),
		"statuses_url": api + "/deployments/" + itoa(d.ID) + "/statuses", "repository_url": api,
		"transient_environment": d.Transient, "production_environment": d.Production,
		"performed_via_github_app": via,
	}
}

// nullable renders "" as JSON null, as GitHub does for unset strings.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// handleCreateDeployment serves POST /repos/{o}/{r}/deployments. Without
// required_contexts every commit status context must be success (409
// otherwise); with auto_merge left true, a ref that does not contain the
// default branch's head is refused with 409, as GitHub would try a merge.
func (s *Server) handleCreateDeployment(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	var req deploymentRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Ref == "" {
		writeValidation(w, "Deployment", "ref", "missing_field", "ref is missing")
		return
	}
	sha, ok := rp.resolve(req.Ref)
	if !ok {
		writeValidation(w, "Deployment", "ref", "invalid", "No ref found for: "+req.Ref)
		return
	}
	if req.AutoMerge == nil || *req.AutoMerge {
		if head, ok := rp.branches[rp.defaultBranch]; ok && !rp.ancestors(sha)[head] {
			writeError(w, http.StatusConflict, fmt.Sprintf("Conflict merging %s into %s.", rp.defaultBranch, req.Ref))
			return
		}
	}
	if failed := s.failedContexts(rp, sha, req.RequiredContexts); len(failed) > 0 {
		writeJSON(w, http.StatusConflict, map[string]any{
			"message":           "Conflict: Commit status checks failed for " + req.Ref + ".",
			"errors":            []any{map[string]any{"contexts": failed, "resource": "Deployment", "field": "required_contexts", "code": "invalid"}},
			"documentation_url": docsURL,
		})
		return
	}
	task, env, desc := "deploy", "production", ""
	if req.Task != nil {
		task = *req.Task
	}
	if req.Environment != nil {
		env = *req.Environment
	}
	if req.Description != nil {
		desc = *req.Description
	}
	d := s.newDeployment(rp, sha, req.Ref, task, env, desc, s.actor(p), p.kind == "installation", req.Payload)
	d.Transient = req.TransientEnvironment != nil && *req.TransientEnvironment
	d.Production = env == "production"
	if req.ProductionEnvironment != nil {
		d.Production = *req.ProductionEnvironment
	}
	writeJSON(w, http.StatusCreated, s.deploymentJSON(rp, d))
}

// failedContexts lists required status contexts that are not success; nil
// required means every context GitHub knows for the commit.
func (s *Server) failedContexts(rp *repo, sha string, required *[]string) []any {
	latest := latestStatuses(rp.statuses[sha])
	state := map[string]string{}
	var names []string
	for _, st := range latest {
		state[st.context] = st.state
		names = append(names, st.context)
	}
	if required != nil {
		names = *required
	}
	var failed []any
	for _, c := range names {
		if state[c] != "success" {
			st := state[c]
			if st == "" {
				st = "missing"
			}
			failed = append(failed, map[string]any{"context": c, "state": st})
		}
	}
	return failed
}

// deploymentFor finds {id} in the repository, or answers 404.
func (s *Server) deploymentFor(w http.ResponseWriter, r *http.Request, p principal) (*repo, *deployment) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return nil, nil
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	for _, d := range rp.deployments {
		if d.ID == id {
			return rp, d
		}
	}
	writeNotFound(w)
	return nil, nil
}

// handleGetDeployment serves GET /repos/{o}/{r}/deployments/{id}.
func (s *Server) handleGetDeployment(w http.ResponseWriter, r *http.Request, p principal) {
	if rp, d := s.deploymentFor(w, r, p); d != nil {
		writeJSON(w, http.StatusOK, s.deploymentJSON(rp, d))
	}
}

// handleListDeployments serves GET /repos/{o}/{r}/deployments, newest first,
// with the sha, ref, task and environment filters.
func (s *Server) handleListDeployments(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	q := r.URL.Query()
	out := []any{}
	for i := len(rp.deployments) - 1; i >= 0; i-- {
		d := rp.deployments[i]
		if (q.Get("sha") != "" && q.Get("sha") != d.SHA) || (q.Get("ref") != "" && q.Get("ref") != d.Ref) ||
			(q.Get("task") != "" && q.Get("task") != d.Task) || (q.Get("environment") != "" && q.Get("environment") != d.Environment) {
			continue
		}
		out = append(out, s.deploymentJSON(rp, d))
	}
	writeJSON(w, http.StatusOK, out)
}

// validDeploymentStates are the states GitHub accepts for a status.
var validDeploymentStates = []string{"error", "failure", "inactive", "in_progress", "queued", "pending", "success"}

// handleCreateDeploymentStatus serves POST .../deployments/{id}/statuses.
func (s *Server) handleCreateDeploymentStatus(w http.ResponseWriter, r *http.Request, p principal) {
	rp, d := s.deploymentFor(w, r, p)
	if d == nil {
		return
	}
	var req deploymentStatusRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if !slices.Contains(validDeploymentStates, req.State) {
		writeValidation(w, "DeploymentStatus", "state", "invalid", "state is not included in the list")
		return
	}
	if len([]rune(req.Description)) > 140 {
		writeValidation(w, "DeploymentStatus", "description", "custom", "description is too long (maximum is 140 characters)")
		return
	}
	if req.LogURL == "" {
		req.LogURL = req.TargetURL
	}
	if req.Environment != "" {
		d.Environment = req.Environment
	}
	st := s.addDeploymentStatus(d, req.State, req.Description, req.LogURL, req.EnvironmentURL, s.actor(p))
	if req.State == "success" && (req.AutoInactive == nil || *req.AutoInactive) {
		for _, prior := range rp.deployments {
			if prior != d && prior.Environment == d.Environment && !prior.Transient && !prior.Production &&
				len(prior.Statuses) > 0 && prior.Statuses[len(prior.Statuses)-1].State == "success" {
				s.addDeploymentStatus(prior, "inactive", "", "", "", s.actor(p))
			}
		}
	}
	writeJSON(w, http.StatusCreated, s.deploymentStatusJSON(rp, d, st))
}

func (s *Server) addDeploymentStatus(d *deployment, state, desc, logURL, envURL, creator string) DeploymentStatus {
	st := DeploymentStatus{
		ID: s.state.newID(), State: state, Description: desc, LogURL: logURL, EnvironmentURL: envURL,
		Environment: d.Environment, Creator: creator, CreatedAt: s.now().UTC(),
	}
	d.Statuses = append(d.Statuses, st)
	return st
}

func (s *Server) deploymentStatusJSON(rp *repo, d *deployment, st DeploymentStatus) map[string]any {
	api := s.apiURL("/repos/" + rp.owner + "/" + rp.name)
	return map[string]any{
		"url": api + "/deployments/" + itoa(d.ID) + "/statuses/" + itoa(st.ID), "id": st.ID,
		"node_id": nodeID("DeploymentStatus", st.ID), "state": st.State, "creator": s.userJSON(st.Creator),
		"description": st.Description, "environment": st.Environment, "target_url": st.LogURL,
		"log_url": st.LogURL, "environment_url": st.EnvironmentURL,
		"created_at": ts(st.CreatedAt), "updated_at": ts(st.CreatedAt),
		"deployment_url": api + "/deployments/" + itoa(d.ID), "repository_url": api,
		"performed_via_github_app": nil,
	}
}

// handleListDeploymentStatuses serves GET .../deployments/{id}/statuses, newest first.
func (s *Server) handleListDeploymentStatuses(w http.ResponseWriter, r *http.Request, p principal) {
	rp, d := s.deploymentFor(w, r, p)
	if d == nil {
		return
	}
	out := []any{}
	for i := len(d.Statuses) - 1; i >= 0; i-- {
		out = append(out, s.deploymentStatusJSON(rp, d, d.Statuses[i]))
	}
	writeJSON(w, http.StatusOK, out)
}
