package githubtest

import (
	"fmt"
	"hash/crc32"
	"net/http"
	"slices"
	"strconv"
)

// PullRequest describes a pull request a test puts into the world.
type PullRequest struct {
	Number  int    // 0 picks the repository's next issue number
	Title   string // default "Change <n>"
	Body    string
	Author  string
	HeadRef string   // head branch; default "feature-<n>"
	HeadSHA string   // required: the PR's head commit
	Commits []string // earlier commits of the PR, oldest first (HeadSHA comes last)
	Base    string   // base branch; default the repository's default branch
	Labels  []string
	Draft   bool
}

// Review is a pull request review a test adds.
type Review struct {
	User     string
	State    string // APPROVED, CHANGES_REQUESTED or COMMENTED
	CommitID string // default: the PR's head SHA at the time
	Body     string
}

// AddPullRequest opens a pull request and returns its number. Its commits
// are added on HeadRef, branching from the base branch's head.
func (s *Server) AddPullRequest(repoName string, pr PullRequest) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(repoName)
	if pr.HeadSHA == "" {
		panic("githubtest: AddPullRequest needs HeadSHA")
	}
	n := pr.Number
	if n == 0 {
		n = rp.nextNumber
	}
	if _, taken := rp.issues[n]; taken {
		panic(fmt.Sprintf("githubtest: AddPullRequest: %s#%d exists", repoName, n))
	}
	rp.nextNumber = max(rp.nextNumber, n+1)
	if pr.Base == "" {
		pr.Base = rp.defaultBranch
	}
	if pr.HeadRef == "" {
		pr.HeadRef = "feature-" + strconv.Itoa(n)
	}
	if pr.Title == "" {
		pr.Title = "Change " + strconv.Itoa(n)
	}
	if pr.Author == "" {
		pr.Author = "octocat"
	}
	if _, ok := rp.branches[pr.HeadRef]; !ok {
		if head, ok := rp.branches[pr.Base]; ok {
			rp.branches[pr.HeadRef] = head
		}
	}
	all := append(slices.Clone(pr.Commits), pr.HeadSHA)
	for _, c := range all {
		s.addCommit(rp, pr.HeadRef, c, pr.Title, pr.Author)
	}
	rp.issues[n] = &issue{
		number: n, title: pr.Title, body: pr.Body, author: pr.Author, labels: slices.Clone(pr.Labels),
		state: "open", created: s.now().UTC(),
		pr: &pull{headRef: pr.HeadRef, headSHA: pr.HeadSHA, base: pr.Base, commits: all},
	}
	return n
}

// mustPull finds a pull request a test set up.
func (s *Server) mustPull(repoName string, number int) (*repo, *issue) {
	rp := s.mustRepo(repoName)
	is, ok := rp.issues[number]
	if !ok || is.pr == nil {
		panic(fmt.Sprintf("githubtest: pull request %s#%d not set up", repoName, number))
	}
	return rp, is
}

// PushToPullRequest adds sha to the PR's head branch and makes it the head.
func (s *Server) PushToPullRequest(repoName string, number int, sha string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, is := s.mustPull(repoName, number)
	s.addCommit(rp, is.pr.headRef, sha, "Update "+is.title, is.author)
	is.pr.headSHA = sha
	is.pr.commits = append(is.pr.commits, sha)
}

// MergePullRequest merges a PR with a merge commit mergeSHA on the base
// branch (parents: base head and PR head), merged by merger.
func (s *Server) MergePullRequest(repoName string, number int, mergeSHA, merger string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp, is := s.mustPull(repoName, number)
	msg := fmt.Sprintf("Merge pull request #%d from %s/%s", number, rp.owner, is.pr.headRef)
	s.addCommit(rp, is.pr.base, mergeSHA, msg, merger, is.pr.headSHA)
	is.state = "closed"
	is.pr.merged, is.pr.mergeSHA, is.pr.mergedBy, is.pr.mergedAt = true, mergeSHA, merger, s.now().UTC()
	s.state.ensureUser(merger)
}

// AddReview submits a review on a PR and returns its id.
func (s *Server) AddReview(repoName string, number int, rv Review) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, is := s.mustPull(repoName, number)
	if rv.CommitID == "" {
		rv.CommitID = is.pr.headSHA
	}
	s.state.ensureUser(rv.User)
	r := &review{id: s.state.newID(), user: rv.User, state: rv.State, commitID: rv.CommitID, body: rv.Body, at: s.now().UTC()}
	is.pr.reviews = append(is.pr.reviews, r)
	return r.id
}

// DismissReview dismisses a review (its state becomes DISMISSED, as on GitHub).
func (s *Server) DismissReview(repoName string, number int, reviewID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, is := s.mustPull(repoName, number)
	for _, r := range is.pr.reviews {
		if r.id == reviewID {
			r.state = "DISMISSED"
		}
	}
}

// labelJSON renders a label; ids are stable per name.
func (s *Server) labelJSON(rp *repo, name string) map[string]any {
	id := int64(crc32.ChecksumIEEE([]byte(rp.owner + "/" + rp.name + ":" + name)))
	return map[string]any{
		"id": id, "node_id": nodeID("Label", id), "name": name, "color": "ededed", "default": false,
		"description": nil, "url": s.apiURL("/repos/" + rp.owner + "/" + rp.name + "/labels/" + name),
	}
}

func (s *Server) labelsJSON(rp *repo, names []string) []any {
	out := []any{}
	for _, n := range names {
		out = append(out, s.labelJSON(rp, n))
	}
	return out
}

// pullJSON renders a pull request as GET /pulls/{n} does.
func (s *Server) pullJSON(rp *repo, is *issue) map[string]any {
	full := rp.owner + "/" + rp.name
	api := s.apiURL("/repos/" + full)
	pr := is.pr
	var mergedAt, closedAt, mergedBy, mergeSHA any
	if pr.merged {
		mergedAt, closedAt, mergedBy, mergeSHA = ts(pr.mergedAt), ts(pr.mergedAt), s.userJSON(pr.mergedBy), pr.mergeSHA
	} else if is.state == "closed" {
		closedAt = ts(is.created)
	}
	var body any
	if is.body != "" {
		body = is.body
	}
	ref := func(branch, sha string) map[string]any {
		return map[string]any{"label": rp.owner + ":" + branch, "ref": branch, "sha": sha, "user": s.ownerJSON(rp.owner), "repo": s.repoJSON(rp)}
	}
	return map[string]any{
		"url": api + "/pulls/" + strconv.Itoa(is.number), "id": int64(is.number) + rp.id*1000,
		"node_id": nodeID("PullRequest", int64(is.number)+rp.id*1000), "number": is.number,
		"html_url":  s.htmlURL("/" + full + "/pull/" + strconv.Itoa(is.number)),
		"diff_url":  s.htmlURL("/" + full + "/pull/" + strconv.Itoa(is.number) + ".diff"),
		"issue_url": api + "/issues/" + strconv.Itoa(is.number),
		"state":     is.state, "locked": false, "title": is.title, "user": s.userJSON(is.author), "body": body,
		"labels":     s.labelsJSON(rp, is.labels),
		"created_at": ts(is.created), "updated_at": ts(is.created), "closed_at": closedAt, "merged_at": mergedAt,
		"merge_commit_sha": mergeSHA, "head": ref(pr.headRef, pr.headSHA), "base": ref(pr.base, rp.branches[pr.base]),
		"merged": pr.merged, "mergeable": nil, "merged_by": mergedBy, "draft": false,
		"author_association": "MEMBER", "comments": 0, "review_comments": 0,
		"commits": len(pr.commits), "additions": 0, "deletions": 0, "changed_files": 0,
		"statuses_url": api + "/statuses/" + pr.headSHA,
	}
}

// pullFor finds the {number} pull request of the path, or answers 404.
func (s *Server) pullFor(w http.ResponseWriter, r *http.Request, p principal) (*repo, *issue) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return nil, nil
	}
	n, _ := strconv.Atoi(r.PathValue("number"))
	is, ok := rp.issues[n]
	if !ok || is.pr == nil {
		writeNotFound(w)
		return nil, nil
	}
	return rp, is
}

// handleGetPull serves GET /repos/{o}/{r}/pulls/{number}.
func (s *Server) handleGetPull(w http.ResponseWriter, r *http.Request, p principal) {
	if rp, is := s.pullFor(w, r, p); is != nil {
		writeJSON(w, http.StatusOK, s.pullJSON(rp, is))
	}
}

// handleListPulls serves GET /repos/{o}/{r}/pulls (state, head, base filters).
func (s *Server) handleListPulls(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	q := r.URL.Query()
	state := q.Get("state")
	if state == "" {
		state = "open"
	}
	out := []any{}
	nums := sortedKeys(rp.issues)
	slices.Reverse(nums)
	for _, n := range nums {
		is := rp.issues[n]
		if is.pr == nil || (state != "all" && state != is.state) ||
			(q.Get("base") != "" && q.Get("base") != is.pr.base) ||
			(q.Get("head") != "" && q.Get("head") != rp.owner+":"+is.pr.headRef) {
			continue
		}
		out = append(out, s.pullJSON(rp, is))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleListReviews serves GET /repos/{o}/{r}/pulls/{number}/reviews.
func (s *Server) handleListReviews(w http.ResponseWriter, r *http.Request, p principal) {
	rp, is := s.pullFor(w, r, p)
	if is == nil {
		return
	}
	out := []any{}
	for _, rv := range is.pr.reviews {
		var submitted any = ts(rv.at)
		out = append(out, map[string]any{
			"id": rv.id, "node_id": nodeID("PullRequestReview", rv.id), "user": s.userJSON(rv.user),
			"body": rv.body, "state": rv.state, "commit_id": rv.commitID, "submitted_at": submitted,
			"html_url":           s.htmlURL(fmt.Sprintf("/%s/%s/pull/%d#pullrequestreview-%d", rp.owner, rp.name, is.number, rv.id)),
			"pull_request_url":   s.apiURL(fmt.Sprintf("/repos/%s/%s/pulls/%d", rp.owner, rp.name, is.number)),
			"author_association": "MEMBER",
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// handleListPullCommits serves GET /repos/{o}/{r}/pulls/{number}/commits.
func (s *Server) handleListPullCommits(w http.ResponseWriter, r *http.Request, p principal) {
	rp, is := s.pullFor(w, r, p)
	if is == nil {
		return
	}
	out := []any{}
	for _, c := range is.pr.commits {
		out = append(out, s.commitJSON(rp, c))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleCommitPulls serves GET /repos/{o}/{r}/commits/{sha}/pulls: the PRs
// whose commits or merge commit include sha (merged ones included).
func (s *Server) handleCommitPulls(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	sha, ok := rp.resolve(r.PathValue("ref"))
	if !ok {
		writeError(w, http.StatusUnprocessableEntity, "No commit found for SHA: "+r.PathValue("ref"))
		return
	}
	out := []any{}
	for _, n := range sortedKeys(rp.issues) {
		is := rp.issues[n]
		if is.pr != nil && (is.pr.mergeSHA == sha || slices.Contains(is.pr.commits, sha)) {
			out = append(out, s.pullJSON(rp, is))
		}
	}
	writeJSON(w, http.StatusOK, out)
}
