package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	gh "github.com/google/go-github/v60/github"
)

// What tollgate doctor asks GitHub about the installation, through the
// App's own clients (the same JWT, installation tokens and retries a
// running server uses).

// OrgInstallation is the App's installation on an organisation.
type OrgInstallation struct {
	ID          int64
	SuspendedAt time.Time         // zero while active
	Permissions map[string]string // granted permission → "read", "write" or "admin"
}

// Answer is what an HTTP answer said besides its body: its status (0 when
// none came) and its Date header (zero when absent or unusable), from which
// a caller can tell whether this host's clock agrees with GitHub's.
type Answer struct {
	Status int
	Date   time.Time
}

func answerOf(resp *gh.Response) Answer {
	if resp == nil || resp.Response == nil {
		return Answer{}
	}
	a := Answer{Status: resp.StatusCode}
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		a.Date = d
	}
	return a
}

// OrgInstallation finds the App's installation on org, authenticated as
// the App (JWT). The Answer comes back also on an error: a 401 with a Date
// far from this host's clock means the JWT was refused for the clock.
func (a *App) OrgInstallation(ctx context.Context, org string) (OrgInstallation, Answer, error) {
	inst, resp, err := a.appClient.Apps.FindOrganizationInstallation(ctx, org)
	ans := answerOf(resp)
	if err != nil {
		if ans.Status == http.StatusNotFound {
			return OrgInstallation{}, ans, fmt.Errorf("finding the installation on %s: %w", org, ErrNotInstalled)
		}
		return OrgInstallation{}, ans, err
	}
	out := OrgInstallation{ID: inst.GetID(), Permissions: map[string]string{}}
	if inst.SuspendedAt != nil {
		out.SuspendedAt = inst.GetSuspendedAt().Time
	}
	if b, err := json.Marshal(inst.GetPermissions()); err == nil {
		_ = json.Unmarshal(b, &out.Permissions) // string values only: read, write, admin
	}
	return out, ans, nil
}

// TwoFactorRequired reports whether org requires two-factor
// authentication of its members; known is false when GitHub did not say
// (the App lacks organization_administration: read).
func (a *App) TwoFactorRequired(ctx context.Context, org string) (required, known bool, err error) {
	c, err := a.ForOrg(ctx, org)
	if err != nil {
		return false, false, err
	}
	o, _, err := c.Organizations.Get(ctx, org)
	if err != nil {
		return false, false, fmt.Errorf("reading %s: %w", org, err)
	}
	if o.TwoFactorRequirementEnabled == nil {
		return false, false, nil
	}
	return *o.TwoFactorRequirementEnabled, true, nil
}

// BranchProtection is what protects a branch.
type BranchProtection struct {
	Protected       bool
	RequiredReviews int  // approving reviews a pull request needs
	ForcePushes     bool // force pushes allowed
	Deletions       bool // deletion allowed
}

// BranchProtection reads the protection of repo's branch.
func (a *App) BranchProtection(ctx context.Context, repo, branch string) (BranchProtection, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return BranchProtection{}, err
	}
	c, err := a.ForRepo(ctx, repo)
	if err != nil {
		return BranchProtection{}, err
	}
	p, _, err := c.Repositories.GetBranchProtection(ctx, owner, name, branch)
	if errors.Is(err, gh.ErrBranchNotProtected) {
		return BranchProtection{}, nil
	}
	if err != nil {
		return BranchProtection{}, err
	}
	out := BranchProtection{Protected: true}
	if p.RequiredPullRequestReviews != nil {
		out.RequiredReviews = p.RequiredPullRequestReviews.RequiredApprovingReviewCount
	}
	out.ForcePushes = p.AllowForcePushes != nil && p.AllowForcePushes.Enabled
	out.Deletions = p.AllowDeletions != nil && p.AllowDeletions.Enabled
	return out, nil
}

// DefaultBranch returns repo's default branch.
func (a *App) DefaultBranch(ctx context.Context, repo string) (string, error) {
	owner, name, err := splitRepo(repo)
	if err != nil {
		return "", err
	}
	c, err := a.ForRepo(ctx, repo)
	if err != nil {
		return "", err
	}
	r, _, err := c.Repositories.Get(ctx, owner, name)
	if err != nil {
		return "", err
	}
	return r.GetDefaultBranch(), nil
}
