package githubtest

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
)

// SetFile puts a file on a branch (creating the branch and a commit), as if
// pushed; the contents API then serves it.
func (s *Server) SetFile(repoName, branch, path string, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(repoName)
	s.putFile(rp, branch, path, content, "Update "+path, "octocat")
}

// File returns a file's content on a branch, and whether it exists.
func (s *Server) File(repoName, branch, path string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.mustRepo(repoName).files[branch][path]
	return b, ok
}

// Files returns the paths on a branch that the contents API holds.
func (s *Server) Files(repoName, branch string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedKeys(s.mustRepo(repoName).files[branch])
}

// putFile stores content and records a new commit for it; returns its SHA.
func (s *Server) putFile(rp *repo, branch, path string, content []byte, message, author string) string {
	if rp.files[branch] == nil {
		rp.files[branch] = map[string][]byte{}
	}
	rp.files[branch][path] = append([]byte(nil), content...)
	sha := randHex(20)
	s.addCommit(rp, branch, sha, message, author)
	return sha
}

// blobSHA is git's object id of a blob, which the contents API reports.
func blobSHA(content []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(content))
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// wrap64 base64-encodes with a newline every 60 characters, like GitHub.
func wrap64(b []byte) string {
	enc := base64.StdEncoding.EncodeToString(b)
	var sb strings.Builder
	for len(enc) > 60 {
		sb.WriteString(enc[:60] + "\n")
		enc = enc[60:]
	}
	sb.WriteString(enc + "\n")
	return sb.String()
}

func (s *Server) contentJSON(rp *repo, branch, path string, content []byte) map[string]any {
	api := s.apiURL("/repos/" + rp.owner + "/" + rp.name)
	blob := blobSHA(content)
	name := path[strings.LastIndex(path, "/")+1:]
	return map[string]any{
		"type": "file", "encoding": "base64", "size": len(content), "name": name, "path": path,
		"content": wrap64(content), "sha": blob, "url": api + "/contents/" + path + "?ref=" + branch,
		"git_url":      api + "/git/blobs/" + blob,
		"html_url":     s.htmlURL("/" + rp.owner + "/" + rp.name + "/blob/" + branch + "/" + path),
		"download_url": s.htmlURL("/" + rp.owner + "/" + rp.name + "/raw/" + branch + "/" + path),
	}
}

// handleGetContents serves GET /repos/{o}/{r}/contents/{path}?ref= for files.
func (s *Server) handleGetContents(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	branch := r.URL.Query().Get("ref")
	if branch == "" {
		branch = rp.defaultBranch
	}
	b, ok := rp.files[branch][r.PathValue("path")]
	if !ok {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.contentJSON(rp, branch, r.PathValue("path"), b))
}

// handlePutContents serves PUT /repos/{o}/{r}/contents/{path}: 201 created,
// 200 updated; updating needs the current blob sha (409 if it is stale,
// 422 if missing), as on GitHub.
func (s *Server) handlePutContents(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	var req struct {
		Message string `json:"message"`
		Content string `json:"content"`
		SHA     string `json:"sha"`
		Branch  string `json:"branch"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Message == "" {
		writeValidation(w, "Contents", "message", "missing_field", "message is missing")
		return
	}
	content, err := base64.StdEncoding.DecodeString(req.Content)
	if err != nil {
		writeValidation(w, "Contents", "content", "invalid", "content is not valid Base64")
		return
	}
	branch := req.Branch
	if branch == "" {
		branch = rp.defaultBranch
	}
	path := r.PathValue("path")
	old, exists := rp.files[branch][path]
	switch {
	case exists && req.SHA == "":
		writeValidation(w, "Contents", "sha", "missing_field", `Invalid request. "sha" wasn't supplied.`)
		return
	case exists && req.SHA != blobSHA(old):
		writeError(w, http.StatusConflict, fmt.Sprintf("%s does not match %s", path, req.SHA))
		return
	}
	commitSHA := s.putFile(rp, branch, path, content, req.Message, s.actor(p))
	status := http.StatusCreated
	if exists {
		status = http.StatusOK
	}
	api := s.apiURL("/repos/" + rp.owner + "/" + rp.name)
	writeJSON(w, status, map[string]any{
		"content": s.contentJSON(rp, branch, path, content),
		"commit": map[string]any{
			"sha": commitSHA, "node_id": "C_" + commitSHA, "url": api + "/git/commits/" + commitSHA,
			"html_url": s.htmlURL("/" + rp.owner + "/" + rp.name + "/commit/" + commitSHA),
			"message":  req.Message,
		},
	})
}
