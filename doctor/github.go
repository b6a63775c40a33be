package doctor

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"time"

	ghint "github.com/tollgate-dev/tollgate/integrations/github"
)

// maxClockSkew is the largest difference from GitHub's clock doctor
// accepts: audit timestamps and app JWTs depend on the clock.
const maxClockSkew = 30 * time.Second

// checkGitHub checks the App through the GitHub integration's own App
// (the JWT, installation tokens and retries serve uses): its key, its
// installation on the organisation, its permissions, the clock, 2FA,
// branch protection and the anchor repository.
func (d *doctor) checkGitHub(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 6*d.timeout)
	defer cancel()
	org := d.cfg.GitHub.Org
	key, err := d.cfg.GitHub.AppPrivateKey()
	if err != nil {
		d.fail(areaAuthentication, "GitHub App key", err.Error(), "set github.private_key_file to the App's private key (.pem from the App settings)")
		return
	}
	app, err := ghint.NewApp(ctx, ghint.AppConfig{APIURL: d.cfg.GitHub.APIURL, AppID: d.cfg.GitHub.AppID, PrivateKey: key,
		Clock: d.now})
	if err != nil {
		d.fail(areaAuthentication, "GitHub App key", err.Error(), "download a new private key from the App settings and set github.private_key_file (and check github.api_url)")
		return
	}
	cctx, cancelCall := context.WithTimeout(ctx, d.timeout)
	inst, answer, err := app.OrgInstallation(cctx, org)
	cancelCall()
	clockOK := d.checkClockSkew(answer) // also on an error: a wrong clock is a common cause of a refused JWT
	switch {
	case errors.Is(err, ghint.ErrNotInstalled):
		d.fail(areaPermissions, "GitHub App installation", fmt.Sprintf("the App (id %d) is not installed on %s", d.cfg.GitHub.AppID, org),
			fmt.Sprintf("install the App on %s (organisation settings → GitHub Apps) with access to every configured repository", org))
		return
	case answer.Status == http.StatusUnauthorized:
		fix := "check github.app_id and that github.private_key_file is a current key of that App"
		if !clockOK {
			fix = "set the clock right first (the App's token is only valid for minutes); then " + fix
		}
		d.fail(areaAuthentication, "GitHub App authentication", "GitHub refused the App's token: "+err.Error(), fix)
		return
	case err != nil:
		d.fail(areaPermissions, "GitHub App installation", err.Error(), "check github.api_url and the network path to GitHub")
		return
	}
	if !inst.SuspendedAt.IsZero() {
		d.fail(areaPermissions, "GitHub App installation", fmt.Sprintf("installation %d on %s is suspended since %s", inst.ID, org,
			inst.SuspendedAt.Format(time.RFC3339)), fmt.Sprintf("unsuspend it: %s settings → GitHub Apps → Tollgate → Unsuspend", org))
		return
	}
	d.pass(areaPermissions, "GitHub App installation", fmt.Sprintf("installation %d on %s", inst.ID, org))
	d.checkAppPermissions(inst.Permissions)
	d.checkTwoFactor(ctx, app, org)
	d.checkDeployBranches(ctx, app)
	d.checkAnchorRepository(ctx, app)
}

// checkClockSkew compares this host's clock with the Date of GitHub's
// answer; it reports whether the clock is right (or could not be told).
func (d *doctor) checkClockSkew(a ghint.Answer) bool {
	if a.Status == 0 {
		return true // no answer at all: reported by the caller
	}
	if a.Date.IsZero() {
		d.fail(areaAudit, "clock", "GitHub's answer has no usable Date header", "compare the clock with an NTP server by hand")
		return false
	}
	skew := d.now().Sub(a.Date).Truncate(time.Second)
	if skew < -maxClockSkew || skew > maxClockSkew {
		d.fail(areaAudit, "clock", fmt.Sprintf("this host's clock is %s off GitHub's", skew),
			"run NTP (systemd-timesyncd or chrony) so audit timestamps and App tokens are right")
		return false
	}
	d.pass(areaAudit, "clock", fmt.Sprintf("within %s of GitHub's", maxClockSkew))
	return true
}

// checkAppPermissions compares what the installation grants with what the
// App manifest asks for.
func (d *doctor) checkAppPermissions(granted map[string]string) {
	required, err := ghint.RequiredPermissions()
	if err != nil {
		d.fail(areaPermissions, "GitHub App permissions", err.Error(), "rebuild tollgate from a clean checkout")
		return
	}
	var missing, grant []string
	for _, perm := range slices.Sorted(maps.Keys(required)) {
		need, have := required[perm], granted[perm]
		if have == need || (need == "read" && have == "write") || have == "admin" {
			continue
		}
		if have == "" {
			have = "none"
		}
		missing = append(missing, fmt.Sprintf("%s: %s (has %s)", perm, need, have))
		grant = append(grant, perm+": "+need)
	}
	if len(missing) > 0 {
		d.fail(areaPermissions, "GitHub App permissions", "missing "+strings.Join(missing, ", "),
			fmt.Sprintf("grant %s in the App's settings (Permissions & events), then an owner of %s accepts the new permissions on the installation (settings → GitHub Apps → Review request)",
				strings.Join(grant, ", "), d.cfg.GitHub.Org))
		return
	}
	d.pass(areaPermissions, "GitHub App permissions", "every permission Tollgate needs is granted")
}

// checkTwoFactor checks the organisation requires 2FA of its members.
func (d *doctor) checkTwoFactor(ctx context.Context, app *ghint.App, org string) {
	cctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	required, known, err := app.TwoFactorRequired(cctx, org)
	switch {
	case err != nil:
		d.fail(areaAuthentication, "two-factor authentication", err.Error(), "grant the App organization_administration: read")
	case !known:
		d.fail(areaAuthentication, "two-factor authentication", "GitHub did not say whether "+org+" requires 2FA",
			"grant the App organization_administration: read so the requirement can be checked")
	case !required:
		d.fail(areaAuthentication, "two-factor authentication", org+" does not require two-factor authentication",
			"organisation settings → Authentication security → Require two-factor authentication (or enforce it through your IdP with SAML SSO)")
	default:
		d.pass(areaAuthentication, "two-factor authentication", org+" requires it of every member")
	}
}

// checkDeployBranches checks the protection of every named branch a
// deploy may come from (patterns name no one branch).
func (d *doctor) checkDeployBranches(ctx context.Context, app *ghint.App) {
	seen := map[string]bool{}
	for _, env := range d.cfg.Environments() {
		for _, b := range append(append([]string{}, env.Branches...), env.AutoDeploy.OnMergeTo...) {
			key := env.Repository + " " + b
			if seen[key] || strings.ContainsAny(b, "*?[") {
				continue
			}
			seen[key] = true
			d.checkBranchProtection(ctx, app, areaChange, env.Repository, b, true)
		}
	}
}

// checkBranchProtection checks a branch blocks force pushes and deletion
// and, for deploy branches, requires an approving review.
func (d *doctor) checkBranchProtection(ctx context.Context, app *ghint.App, area, repo, branch string, needReview bool) {
	what := fmt.Sprintf("branch protection of %s %s", repo, branch)
	cctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	p, err := app.BranchProtection(cctx, repo, branch)
	fix := fmt.Sprintf("protect %s in %s (Settings → Branches): block force pushes and deletions", branch, repo)
	if needReview {
		fix += ", require a pull request with at least one approving review"
	}
	switch {
	case err != nil:
		d.fail(area, what, err.Error(), "grant the App administration: read, and check the branch exists")
		return
	case !p.Protected:
		d.fail(area, what, "not protected", fix)
		return
	}
	var problems []string
	if needReview && p.RequiredReviews < 1 {
		problems = append(problems, "no approving review required")
	}
	if p.ForcePushes {
		problems = append(problems, "force pushes allowed")
	}
	if p.Deletions {
		problems = append(problems, "deletion allowed")
	}
	if len(problems) > 0 {
		d.fail(area, what, strings.Join(problems, ", "), fix)
		return
	}
	d.pass(area, what, "protected")
}

// checkAnchorRepository checks the anchor repository exists and its
// default branch is protected.
func (d *doctor) checkAnchorRepository(ctx context.Context, app *ghint.App) {
	repo := d.cfg.Audit.AnchorRepository
	if repo == "" {
		return // reported with the audit log
	}
	cctx, cancel := context.WithTimeout(ctx, d.timeout)
	branch, err := app.DefaultBranch(cctx, repo)
	cancel()
	if err != nil {
		d.fail(areaAudit, "anchor repository "+repo, err.Error(), "create it and install the App on it with contents: write")
		return
	}
	d.checkBranchProtection(ctx, app, areaAudit, repo, branch, false)
}
