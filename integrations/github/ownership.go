package github

import (
	"context"
	"fmt"
	"net/url"
	"strconv"

	gh "github.com/google/go-github/v60/github"
)

// madeByApp is the part of a GitHub object (a deployment, an issue
// comment) that says which GitHub App made it. go-github v60 does not
// decode performed_via_github_app on either, so lists that must tell
// Tollgate's own objects from look-alikes decode it here.
type madeByApp struct {
	PerformedViaGitHubApp *struct {
		ID int64 `json:"id"`
	} `json:"performed_via_github_app"`
}

// ownDeployment is a listed deployment with the App that made it.
type ownDeployment struct {
	gh.Deployment
	madeByApp
}

// ownComment is a listed issue comment with the App that made it.
type ownComment struct {
	gh.IssueComment
	madeByApp
}

// madeByThisApp reports whether an object was made by this App's
// installation: performed via this App (GitHub sets it; nobody else can)
// and created by a bot account. Another App's objects, or a person's made
// through this App's user token, carry another id or a person as creator.
// Anything can copy a payload or a marker, so neither is enough.
func (a *App) madeByThisApp(m madeByApp, creator *gh.User) bool {
	return m.PerformedViaGitHubApp != nil && m.PerformedViaGitHubApp.ID == a.appID && creator.GetType() == "Bot"
}

// listDeployments lists the deployments of sha to env in owner/name,
// newest first, one page (GitHub keeps a request's deployment near the top).
func listDeployments(ctx context.Context, c *gh.Client, owner, name, sha, env string) ([]ownDeployment, error) {
	q := url.Values{"sha": {sha}, "environment": {env}, "per_page": {strconv.Itoa(perPage)}}
	req, err := c.NewRequest("GET", fmt.Sprintf("repos/%s/%s/deployments?%s", url.PathEscape(owner), url.PathEscape(name), q.Encode()), nil)
	if err != nil {
		return nil, err
	}
	var out []ownDeployment
	if _, err := c.Do(ctx, req, &out); err != nil {
		return nil, err
	}
	return out, nil
}

// listComments lists one page of the comments of issue or PR number.
func listComments(ctx context.Context, c *gh.Client, owner, name string, number, page int) ([]ownComment, *gh.Response, error) {
	q := url.Values{"per_page": {strconv.Itoa(perPage)}}
	if page > 0 {
		q.Set("page", strconv.Itoa(page))
	}
	req, err := c.NewRequest("GET", fmt.Sprintf("repos/%s/%s/issues/%d/comments?%s", url.PathEscape(owner), url.PathEscape(name), number, q.Encode()), nil)
	if err != nil {
		return nil, nil, err
	}
	var out []ownComment
	resp, err := c.Do(ctx, req, &out)
	if err != nil {
		return nil, resp, err
	}
	return out, resp, nil
}
