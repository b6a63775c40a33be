package githubtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// defaultTreeLimit is how many entries GitHub returns from one trees call
// before it sets "truncated" (100,000 entries or 7 MB, whichever first).
const defaultTreeLimit = 100000

// SetTreeLimit sets how many entries one git/trees answer holds before it
// is truncated ("truncated": true), so tests reach the limit with small
// trees; n <= 0 restores GitHub's 100,000.
func (s *Server) SetTreeLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n <= 0 {
		n = defaultTreeLimit
	}
	s.treeLimit = n
}

// respondLater is an answer computed under Server.mu and written after it
// is released, so a slow (shaped) body never holds up other requests.
type respondLater func(w http.ResponseWriter)

// tokenAuthThen authenticates like tokenAuth; h runs with Server.mu held
// and returns the answer, which is written without the lock.
func (s *Server) tokenAuthThen(h func(r *http.Request, p principal) respondLater) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var answer respondLater
		func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			p, status, msg := s.tokenPrincipal(r)
			if status != 0 {
				answer = func(w http.ResponseWriter) { writeError(w, status, msg) }
				return
			}
			answer = h(r, p)
		}()
		answer(w)
	}
}

func notFound(w http.ResponseWriter) { writeNotFound(w) }

// repoForLater is repoFor for tokenAuthThen handlers.
func (s *Server) repoForLater(r *http.Request, p principal) *repo {
	rp := s.state.repo(r.PathValue("owner") + "/" + r.PathValue("repo"))
	if rp == nil || !s.canSeeAccount(p, rp.owner) {
		return nil
	}
	return rp
}

// apiTreeEntry is one entry of a git/trees answer.
type apiTreeEntry struct {
	Path string `json:"path"`
	Mode string `json:"mode"`
	Type string `json:"type"`
	SHA  string `json:"sha"`
	Size *int   `json:"size,omitempty"`
	URL  string `json:"url,omitempty"`
}

// handleGetTree serves GET /repos/{o}/{r}/git/trees/{sha}[?recursive=1]:
// sha is a tree id, a commit SHA or a ref; any recursive value lists the
// whole tree (GitHub's rule), depth first, each tree before its entries. An
// answer over the limit holds the first entries and "truncated": true.
func (s *Server) handleGetTree(r *http.Request, p principal) respondLater {
	rp := s.repoForLater(r, p)
	if rp == nil {
		return notFound
	}
	ref := r.PathValue("sha")
	id := ref
	if _, ok := rp.git.trees[id]; !ok {
		sha, ok := rp.resolve(ref)
		if !ok {
			return notFound
		}
		if id, ok = rp.git.commits[sha]; !ok {
			return notFound
		}
	}
	api := s.apiURL("/repos/" + rp.owner + "/" + rp.name + "/git/")
	var entries []apiTreeEntry
	truncated := false
	var walk func(tree, prefix string, recurse bool)
	walk = func(tree, prefix string, recurse bool) {
		for _, e := range rp.git.trees[tree] {
			if len(entries) >= s.treeLimit {
				truncated = true
				return
			}
			ae := apiTreeEntry{Path: prefix + e.name, Mode: e.mode, Type: e.typ, SHA: e.id}
			switch e.typ {
			case "blob":
				size := e.size
				ae.Size, ae.URL = &size, api+"blobs/"+e.id
			case "tree":
				ae.URL = api + "trees/" + e.id
			}
			entries = append(entries, ae)
			if recurse && e.typ == "tree" {
				walk(e.id, prefix+e.name+"/", true)
			}
		}
	}
	walk(id, "", r.URL.Query().Get("recursive") != "")
	body, err := json.Marshal(map[string]any{"sha": id, "url": api + "trees/" + id, "tree": entries, "truncated": truncated})
	if err != nil {
		return func(w http.ResponseWriter) { writeError(w, http.StatusInternalServerError, err.Error()) }
	}
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
}

// handleGetBlob serves GET /repos/{o}/{r}/git/blobs/{sha}: the raw content
// with Accept: application/vnd.github.raw (or .v3.raw), else JSON with
// base64 content.
func (s *Server) handleGetBlob(r *http.Request, p principal) respondLater {
	rp := s.repoForLater(r, p)
	if rp == nil {
		return notFound
	}
	id := r.PathValue("sha")
	content, ok := rp.git.blobs[id]
	if !ok {
		return notFound
	}
	if accept := r.Header.Get("Accept"); strings.Contains(accept, "application/vnd.github.raw") || strings.Contains(accept, "application/vnd.github.v3.raw") {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/vnd.github.raw")
			w.Header().Set("Content-Length", strconv.Itoa(len(content)))
			_, _ = w.Write(content)
		}
	}
	api := s.apiURL("/repos/" + rp.owner + "/" + rp.name + "/git/blobs/" + id)
	v := map[string]any{"sha": id, "node_id": "B_" + id, "size": len(content), "url": api, "content": wrap64(content), "encoding": "base64"}
	return func(w http.ResponseWriter) { writeJSON(w, http.StatusOK, v) }
}
