package githubtest

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"
)

// Comment is an issue or pull request comment, for assertions.
type Comment struct {
	ID        int64
	User      string
	Body      string // current body
	CreatedAt time.Time
	UpdatedAt time.Time
	Edits     int // times it was edited through the API
}

// Reaction is a reaction on a comment.
type Reaction struct {
	ID      int64
	User    string
	Content string // +1, -1, laugh, confused, heart, hooray, rocket, eyes
}

// maxCommentBody is GitHub's limit on a comment body.
const maxCommentBody = 65536

// AddIssue opens an issue (not a PR) and returns its number.
func (s *Server) AddIssue(repoName, title, body, author string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addIssue(s.mustRepo(repoName), title, body, author, nil).number
}

func (s *Server) addIssue(rp *repo, title, body, author string, labels []string) *issue {
	is := &issue{number: rp.nextNumber, title: title, body: body, author: author, labels: labels, state: "open", created: s.now().UTC()}
	rp.issues[is.number] = is
	rp.nextNumber++
	return is
}

// AddIssueComment posts a comment as login (e.g. a person typing "/deploy
// production") and returns its id.
func (s *Server) AddIssueComment(repoName string, number int, login, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(repoName)
	if _, ok := rp.issues[number]; !ok {
		panic(fmt.Sprintf("githubtest: issue %s#%d not set up", repoName, number))
	}
	return s.addComment(rp, number, login, body).id
}

func (s *Server) addComment(rp *repo, number int, login, body string) *comment {
	now := s.now().UTC()
	c := &comment{id: s.state.newID(), issue: number, user: login, body: body, created: now, updated: now}
	rp.comments[c.id] = c
	return c
}

// IssueComments returns the comments on an issue or PR, oldest first.
func (s *Server) IssueComments(repoName string, number int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(repoName)
	var out []Comment
	for _, id := range sortedKeys(rp.comments) {
		if c := rp.comments[id]; c.issue == number {
			out = append(out, Comment{ID: c.id, User: c.user, Body: c.body, CreatedAt: c.created, UpdatedAt: c.updated, Edits: c.edits})
		}
	}
	return out
}

// Reactions returns the reactions on a comment, oldest first.
func (s *Server) Reactions(repoName string, commentID int64) []Reaction {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.mustRepo(repoName).comments[commentID]; ok {
		return slices.Clone(c.reactions)
	}
	return nil
}

// Labels returns the labels on an issue or PR.
func (s *Server) Labels(repoName string, number int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is, ok := s.mustRepo(repoName).issues[number]; ok {
		return slices.Clone(is.labels)
	}
	return nil
}

// SetLabels replaces the labels on an issue or PR (as a person would).
func (s *Server) SetLabels(repoName string, number int, labels ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if is, ok := s.mustRepo(repoName).issues[number]; ok {
		is.labels = slices.Clone(labels)
	}
}

// Issue is an issue as GitHub holds it, for assertions.
type Issue struct {
	Number int
	Title  string
	Body   string
	Author string
	Labels []string
	IsPull bool
}

// Issues returns a repository's issues and PRs, by number.
func (s *Server) Issues(repoName string) []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	rp := s.mustRepo(repoName)
	var out []Issue
	for _, n := range sortedKeys(rp.issues) {
		is := rp.issues[n]
		out = append(out, Issue{Number: n, Title: is.title, Body: is.body, Author: is.author, Labels: slices.Clone(is.labels), IsPull: is.pr != nil})
	}
	return out
}

// issueFor finds {number} (issue or PR) in the path's repository, or answers 404.
func (s *Server) issueFor(w http.ResponseWriter, r *http.Request, p principal) (*repo, *issue) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return nil, nil
	}
	n, _ := strconv.Atoi(r.PathValue("number"))
	is, ok := rp.issues[n]
	if !ok {
		writeNotFound(w)
		return nil, nil
	}
	return rp, is
}

func (s *Server) issueJSON(rp *repo, is *issue) map[string]any {
	api := s.apiURL("/repos/" + rp.owner + "/" + rp.name)
	out := map[string]any{
		"url": api + "/issues/" + strconv.Itoa(is.number), "id": int64(is.number) + rp.id*1000 + 500,
		"node_id": nodeID("Issue", int64(is.number)+rp.id*1000), "number": is.number, "title": is.title,
		"user": s.userJSON(is.author), "labels": s.labelsJSON(rp, is.labels), "state": is.state,
		"locked": false, "body": nullable(is.body), "comments": 0, "author_association": s.association(rp, is.author),
		"html_url":   s.htmlURL(fmt.Sprintf("/%s/%s/issues/%d", rp.owner, rp.name, is.number)),
		"created_at": ts(is.created), "updated_at": ts(is.created), "closed_at": nil,
		"repository_url": api,
	}
	if is.pr != nil {
		out["pull_request"] = map[string]any{"url": api + "/pulls/" + strconv.Itoa(is.number)}
	}
	return out
}

// handleCreateIssue serves POST /repos/{o}/{r}/issues.
func (s *Server) handleCreateIssue(w http.ResponseWriter, r *http.Request, p principal) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return
	}
	var req struct {
		Title  string   `json:"title"`
		Body   string   `json:"body"`
		Labels []string `json:"labels"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if req.Title == "" {
		writeValidation(w, "Issue", "title", "missing_field", "title is missing")
		return
	}
	writeJSON(w, http.StatusCreated, s.issueJSON(rp, s.addIssue(rp, req.Title, req.Body, s.actor(p), req.Labels)))
}

// handleGetIssue serves GET /repos/{o}/{r}/issues/{number}.
func (s *Server) handleGetIssue(w http.ResponseWriter, r *http.Request, p principal) {
	if rp, is := s.issueFor(w, r, p); is != nil {
		writeJSON(w, http.StatusOK, s.issueJSON(rp, is))
	}
}

func (s *Server) commentJSON(rp *repo, c *comment) map[string]any {
	api := s.apiURL("/repos/" + rp.owner + "/" + rp.name)
	var via any
	if c.user == s.state.app.slug+"[bot]" {
		via = s.appJSON()
	}
	return map[string]any{
		"id": c.id, "node_id": nodeID("IssueComment", c.id), "url": api + "/issues/comments/" + itoa(c.id),
		"html_url":  s.htmlURL(fmt.Sprintf("/%s/%s/pull/%d#issuecomment-%d", rp.owner, rp.name, c.issue, c.id)),
		"issue_url": api + "/issues/" + strconv.Itoa(c.issue), "body": c.body, "user": s.userJSON(c.user),
		"created_at": ts(c.created), "updated_at": ts(c.updated), "author_association": s.association(rp, c.user),
		"performed_via_github_app": via,
		"reactions":                map[string]any{"url": api + "/issues/comments/" + itoa(c.id) + "/reactions", "total_count": len(c.reactions)},
	}
}

// commentBody decodes {"body": ...} and enforces GitHub's rules on it.
func commentBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	var req struct {
		Body *string `json:"body"`
	}
	if !decodeBody(w, r, &req) {
		return "", false
	}
	switch {
	case req.Body == nil || *req.Body == "":
		writeValidation(w, "IssueComment", "body", "missing_field", "body is missing")
		return "", false
	case len([]rune(*req.Body)) > maxCommentBody:
		writeValidation(w, "IssueComment", "body", "custom", "body is too long (maximum is 65536 characters)")
		return "", false
	}
	return *req.Body, true
}

// handleCreateComment serves POST /repos/{o}/{r}/issues/{number}/comments.
func (s *Server) handleCreateComment(w http.ResponseWriter, r *http.Request, p principal) {
	rp, is := s.issueFor(w, r, p)
	if is == nil {
		return
	}
	body, ok := commentBody(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusCreated, s.commentJSON(rp, s.addComment(rp, is.number, s.actor(p), body)))
}

// handleListComments serves GET /repos/{o}/{r}/issues/{number}/comments.
func (s *Server) handleListComments(w http.ResponseWriter, r *http.Request, p principal) {
	rp, is := s.issueFor(w, r, p)
	if is == nil {
		return
	}
	out := []any{}
	for _, id := range sortedKeys(rp.comments) {
		if c := rp.comments[id]; c.issue == is.number {
			out = append(out, s.commentJSON(rp, c))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// commentFor finds comment {id} in the path's repository, or answers 404.
func (s *Server) commentFor(w http.ResponseWriter, r *http.Request, p principal) (*repo, *comment) {
	rp := s.repoFor(w, r, p)
	if rp == nil {
		return nil, nil
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	c, ok := rp.comments[id]
	if !ok {
		writeNotFound(w)
		return nil, nil
	}
	return rp, c
}

// handleGetComment serves GET /repos/{o}/{r}/issues/comments/{id}.
func (s *Server) handleGetComment(w http.ResponseWriter, r *http.Request, p principal) {
	if rp, c := s.commentFor(w, r, p); c != nil {
		writeJSON(w, http.StatusOK, s.commentJSON(rp, c))
	}
}

// handleEditComment serves PATCH /repos/{o}/{r}/issues/comments/{id}; only
// the comment's author may edit it (403 otherwise).
func (s *Server) handleEditComment(w http.ResponseWriter, r *http.Request, p principal) {
	rp, c := s.commentFor(w, r, p)
	if c == nil {
		return
	}
	if !lowerEq(c.user, s.actor(p)) {
		writeError(w, http.StatusForbidden, "Resource not accessible by integration")
		return
	}
	body, ok := commentBody(w, r)
	if !ok {
		return
	}
	c.body, c.updated, c.edits = body, s.now().UTC(), c.edits+1
	writeJSON(w, http.StatusOK, s.commentJSON(rp, c))
}

// validReactions are the reaction contents GitHub accepts.
var validReactions = []string{"+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes"}

// handleCreateReaction serves POST .../issues/comments/{id}/reactions:
// 201 for a new reaction, 200 when the same user already reacted so.
func (s *Server) handleCreateReaction(w http.ResponseWriter, r *http.Request, p principal) {
	_, c := s.commentFor(w, r, p)
	if c == nil {
		return
	}
	var req struct {
		Content string `json:"content"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if !slices.Contains(validReactions, req.Content) {
		writeValidation(w, "Reaction", "content", "invalid", "content is not included in the list")
		return
	}
	who := s.actor(p)
	status := http.StatusCreated
	var re Reaction
	if i := slices.IndexFunc(c.reactions, func(x Reaction) bool { return x.Content == req.Content && lowerEq(x.User, who) }); i >= 0 {
		status, re = http.StatusOK, c.reactions[i]
	} else {
		re = Reaction{ID: s.state.newID(), User: who, Content: req.Content}
		c.reactions = append(c.reactions, re)
	}
	writeJSON(w, status, s.reactionJSON(re))
}

func (s *Server) reactionJSON(re Reaction) map[string]any {
	return map[string]any{
		"id": re.ID, "node_id": nodeID("Reaction", re.ID), "user": s.userJSON(re.User),
		"content": re.Content, "created_at": ts(s.now()),
	}
}

// handleListReactions serves GET .../issues/comments/{id}/reactions.
func (s *Server) handleListReactions(w http.ResponseWriter, r *http.Request, p principal) {
	_, c := s.commentFor(w, r, p)
	if c == nil {
		return
	}
	out := []any{}
	for _, re := range c.reactions {
		if q := r.URL.Query().Get("content"); q == "" || q == re.Content {
			out = append(out, s.reactionJSON(re))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleListLabels serves GET /repos/{o}/{r}/issues/{number}/labels.
func (s *Server) handleListLabels(w http.ResponseWriter, r *http.Request, p principal) {
	if rp, is := s.issueFor(w, r, p); is != nil {
		writeJSON(w, http.StatusOK, s.labelsJSON(rp, is.labels))
	}
}

// handleAddLabels serves POST /repos/{o}/{r}/issues/{number}/labels
// ({"labels": [...]} or a bare array).
func (s *Server) handleAddLabels(w http.ResponseWriter, r *http.Request, p principal) {
	rp, is := s.issueFor(w, r, p)
	if is == nil {
		return
	}
	var req struct {
		Labels []string `json:"labels"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	for _, l := range req.Labels {
		if !slices.Contains(is.labels, l) {
			is.labels = append(is.labels, l)
		}
	}
	writeJSON(w, http.StatusOK, s.labelsJSON(rp, is.labels))
}

// handleRemoveLabel serves DELETE /repos/{o}/{r}/issues/{number}/labels/{name}:
// 200 with the remaining labels, 404 "Label does not exist" if absent.
func (s *Server) handleRemoveLabel(w http.ResponseWriter, r *http.Request, p principal) {
	rp, is := s.issueFor(w, r, p)
	if is == nil {
		return
	}
	name := r.PathValue("name") // already unescaped by ServeMux
	i := slices.Index(is.labels, name)
	if i < 0 {
		writeError(w, http.StatusNotFound, "Label does not exist")
		return
	}
	is.labels = slices.Delete(is.labels, i, i+1)
	writeJSON(w, http.StatusOK, s.labelsJSON(rp, is.labels))
}
