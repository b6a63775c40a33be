package github

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-github/v60/github"
)

// hasStanding reports whether author may give Tollgate commands in repo's
// PR comments: a member of the organisation that owns repo, or a
// collaborator with write access (write, maintain, admin). Anyone else on
// a public repository can comment; their commands must cost no more than
// one look-up.
//
// author_association comes from GitHub in the signed payload: OWNER and
// MEMBER need no call. Other associations are asked live: GitHub may show
// a private member as CONTRIBUTOR or NONE, so one membership call (and,
// for COLLABORATOR, one permission call) decides.
func (d *Dispatcher) hasStanding(ctx context.Context, repo string, author *github.User, association string) (bool, error) {
	switch strings.ToUpper(association) {
	case "OWNER", "MEMBER":
		return true, nil
	}
	if d.stand == nil {
		return false, nil
	}
	login := author.GetLogin()
	owner, _, err := splitRepo(repo)
	if err != nil {
		return false, err
	}
	member, err := d.stand.IsOrgMember(ctx, owner, login)
	if err != nil {
		return false, fmt.Errorf("standing of %s in %s: %w", login, repo, err)
	}
	if member || !strings.EqualFold(association, "COLLABORATOR") {
		return member, nil
	}
	perm, err := d.stand.RepoPermission(ctx, repo, login)
	if err != nil {
		return false, fmt.Errorf("standing of %s in %s: %w", login, repo, err)
	}
	switch perm {
	case "admin", "maintain", "write":
		return true, nil
	}
	return false, nil
}
