package githubtest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
)

// defaultPerPage and maxPerPage are GitHub's page sizes for list calls.
const (
	defaultPerPage = 30
	maxPerPage     = 100
)

// handleListBranches serves GET /repos/{o}/{r}/branches, sorted by name and
// paginated with per_page/page and a Link header, as GitHub does; so a
// client that stops after the first page misses branches here too.
func (s *Server) handleListBranches(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	perPage, page, ok := pageParams(w, r)
	if !ok {
		return
	}
	names := sortedKeys(rp.branches)
	if r.URL.Query().Get("protected") == "true" {
		names = slices.DeleteFunc(names, func(n string) bool { _, ok := rp.protection[n]; return !ok })
	}
	from := min((page-1)*perPage, len(names))
	to := min(from+perPage, len(names))
	out := []any{}
	for _, name := range names[from:to] {
		_, protected := rp.protection[name]
		sha := rp.branches[name]
		out = append(out, map[string]any{
			"name":      name,
			"commit":    map[string]any{"sha": sha, "url": s.apiURL("/repos/" + rp.owner + "/" + rp.name + "/commits/" + sha)},
			"protected": protected,
		})
	}
	if to < len(names) {
		next := *r.URL
		q := next.Query()
		q.Set("page", strconv.Itoa(page+1))
		q.Set("per_page", strconv.Itoa(perPage))
		next.RawQuery = q.Encode()
		w.Header().Set("Link", fmt.Sprintf("<%s>; rel=\"next\"", s.apiURL(apiPrefix+next.Path+"?"+next.RawQuery)))
	}
	writeJSON(w, http.StatusOK, out)
}

// pageParams reads per_page (default 30, at most 100) and page (from 1);
// anything that is not a positive number is refused with 422 like GitHub.
func pageParams(w http.ResponseWriter, r *http.Request) (perPage, page int, ok bool) {
	perPage, page = defaultPerPage, 1
	q := r.URL.Query()
	if v := q.Get("per_page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusUnprocessableEntity, "per_page must be a positive integer")
			return 0, 0, false
		}
		perPage = min(n, maxPerPage)
	}
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusUnprocessableEntity, "page must be a positive integer")
			return 0, 0, false
		}
		page = n
	}
	return perPage, page, true
}
