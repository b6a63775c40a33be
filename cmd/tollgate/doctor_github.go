package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bradleyfalzon/ghinstallation/v2"
	gh "github.com/google/go-github/v60/github"
	"go.yaml.in/yaml/v3"
)

// maxClockSkew is the largest difference from GitHub's clock doctor
// accepts: audit timestamps and app JWTs depend on the clock.
const maxClockSkew = 30 * time.Second

// requiredAppPermissions is what Tollgate's GitHub App needs: the
// default_permissions of app.yml, the manifest `tollgate setup` registers,
// so doctor and the manifest cannot disagree.
func requiredAppPermissions() (map[string]string, error) {
	var m struct {
		Permissions map[string]string `yaml:"default_permissions"`
	}
	if err := yaml.Unmarshal(appManifestYAML, &m); err != nil {
		return nil, fmt.Errorf("reading the embedded app manifest: %w", err)
	}
	if len(m.Permissions) == 0 {
		return nil, errors.New("the embedded app manifest lists no default_permissions")
	}
	return m.Permissions, nil
}

// checkGitHub checks the App's installation and permissions, the clock
// against GitHub's, the organisation's 2FA requirement and the protection
// of deploy branches and of the anchor repository.
func (d *doctor) checkGitHub(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 6*d.timeout)
	defer cancel()
	org := d.cfg.GitHub.Org
	key, err := d.cfg.GitHub.AppPrivateKey()
	if err != nil {
		d.fail(areaAuthentication, "GitHub App key", err.Error(), "set github.private_key_file to the App's private key (.pem from the App settings)")
		return
	}
	atr, err := ghinstallation.NewAppsTransport(http.DefaultTransport, d.cfg.GitHub.AppID, key)
	if err != nil {
		d.fail(areaAuthentication, "GitHub App key", err.Error(), "download a new private key from the App settings and set github.private_key_file")
		return
	}
	atr.BaseURL = strings.TrimSuffix(d.cfg.GitHub.APIURL, "/")
	appClient, err := d.githubClient(atr)
	if err != nil {
		d.fail(areaPermissions, "GitHub API", err.Error(), "fix github.api_url")
		return
	}
	inst, resp, err := appClient.Apps.FindOrganizationInstallation(ctx, org)
	clockOK := d.checkClockSkew(resp) // also on an error: a wrong clock is a common cause of a refused JWT
	switch {
	case statusCode(resp) == http.StatusNotFound:
		d.fail(areaPermissions, "GitHub App installation", fmt.Sprintf("the App (id %d) is not installed on %s", d.cfg.GitHub.AppID, org),
			fmt.Sprintf("install the App on %s (organisation settings → GitHub Apps) with access to every configured repository", org))
		return
	case statusCode(resp) == http.StatusUnauthorized:
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
	if inst.SuspendedAt != nil {
		d.fail(areaPermissions, "GitHub App installation", fmt.Sprintf("installation %d on %s is suspended since %s", inst.GetID(), org,
			inst.GetSuspendedAt().Format(time.RFC3339)), fmt.Sprintf("unsuspend it: %s settings → GitHub Apps → Tollgate → Unsuspend", org))
		return
	}
	d.pass(areaPermissions, "GitHub App installation", fmt.Sprintf("installation %d on %s", inst.GetID(), org))
	d.checkAppPermissions(inst)

	itr := ghinstallation.NewFromAppsTransport(atr, inst.GetID())
	itr.BaseURL = atr.BaseURL
	c, err := d.githubClient(itr)
	if err != nil {
		return // same URL as above: cannot fail here
	}
	d.checkTwoFactor(ctx, c, org)
	d.checkDeployBranches(ctx, c)
	d.checkAnchorRepository(ctx, c)
}

func (d *doctor) githubClient(rt http.RoundTripper) (*gh.Client, error) {
	u, err := url.Parse(d.cfg.GitHub.APIURL)
	if err != nil {
		return nil, fmt.Errorf("github.api_url %q: %w", d.cfg.GitHub.APIURL, err)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	c := gh.NewClient(&http.Client{Transport: rt, Timeout: d.timeout})
	c.BaseURL, c.UploadURL = u, u
	return c, nil
}

func statusCode(resp *gh.Response) int {
	if resp == nil || resp.Response == nil {
		return 0
	}
	return resp.StatusCode
}

// checkClockSkew compares the local clock with the Date of GitHub's
// answer and reports whether it is within maxClockSkew.
func (d *doctor) checkClockSkew(resp *gh.Response) bool {
	if resp == nil || resp.Response == nil {
		return true // no answer at all: reported by the caller
	}
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		d.fail(areaAudit, "clock", "GitHub's answer has no usable Date header", "compare the clock with an NTP server by hand")
		return false
	}
	skew := d.now().Sub(date).Truncate(time.Second)
	if skew < -maxClockSkew || skew > maxClockSkew {
		d.fail(areaAudit, "clock", fmt.Sprintf("this host's clock is %s off GitHub's", skew),
			"run NTP (systemd-timesyncd or chrony) so audit timestamps and App tokens are right")
		return false
	}
	d.pass(areaAudit, "clock", fmt.Sprintf("within %s of GitHub's", maxClockSkew))
	return true
}

// checkAppPermissions compares the installation's permissions with what
// Tollgate needs.
func (d *doctor) checkAppPermissions(inst *gh.Installation) {
	granted := map[string]string{}
	if b, err := json.Marshal(inst.GetPermissions()); err == nil {
		_ = json.Unmarshal(b, &granted) // strings only
	}
	required, err := requiredAppPermissions()
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

func (d *doctor) checkTwoFactor(ctx context.Context, c *gh.Client, org string) {
	o, _, err := c.Organizations.Get(ctx, org)
	switch {
	case err != nil:
		d.fail(areaAuthentication, "two-factor authentication", "reading "+org+": "+err.Error(), "grant the App organization_administration: read")
	case o.TwoFactorRequirementEnabled == nil:
		d.fail(areaAuthentication, "two-factor authentication", "GitHub did not say whether "+org+" requires 2FA",
			"grant the App organization_administration: read so the requirement can be checked")
	case !*o.TwoFactorRequirementEnabled:
		d.fail(areaAuthentication, "two-factor authentication", org+" does not require two-factor authentication",
			"organisation settings → Authentication security → Require two-factor authentication (or enforce it through your IdP with SAML SSO)")
	default:
		d.pass(areaAuthentication, "two-factor authentication", org+" requires it of every member")
	}
}

// checkDeployBranches checks the protection of every branch a deploy comes
// from: explicit branches and auto-deploy branches (patterns are skipped).
func (d *doctor) checkDeployBranches(ctx context.Context, c *gh.Client) {
	seen := map[string]bool{}
	for _, env := range d.cfg.Environments() {
		for _, b := range append(append([]string{}, env.Branches...), env.AutoDeploy.OnMergeTo...) {
			key := env.Repository + " " + b
			if seen[key] || strings.ContainsAny(b, "*?[") {
				continue
			}
			seen[key] = true
			d.checkBranchProtection(ctx, c, areaChange, env.Repository, b, true)
		}
	}
}

// checkBranchProtection checks one branch: protected, no force pushes,
// no deletions, and (for deploy branches) a required approving review.
func (d *doctor) checkBranchProtection(ctx context.Context, c *gh.Client, area, repo, branch string, needReview bool) {
	what := fmt.Sprintf("branch protection of %s %s", repo, branch)
	owner, name, _ := strings.Cut(repo, "/")
	p, _, err := c.Repositories.GetBranchProtection(ctx, owner, name, branch)
	fix := fmt.Sprintf("protect %s in %s (Settings → Branches): block force pushes and deletions", branch, repo)
	if needReview {
		fix += ", require a pull request with at least one approving review"
	}
	switch {
	case errors.Is(err, gh.ErrBranchNotProtected):
		d.fail(area, what, "not protected", fix)
		return
	case err != nil:
		d.fail(area, what, err.Error(), "grant the App administration: read, and check the branch exists")
		return
	}
	var problems []string
	if needReview && (p.RequiredPullRequestReviews == nil || p.RequiredPullRequestReviews.RequiredApprovingReviewCount < 1) {
		problems = append(problems, "no approving review required")
	}
	if p.AllowForcePushes != nil && p.AllowForcePushes.Enabled {
		problems = append(problems, "force pushes allowed")
	}
	if p.AllowDeletions != nil && p.AllowDeletions.Enabled {
		problems = append(problems, "deletion allowed")
	}
	if len(problems) > 0 {
		d.fail(area, what, strings.Join(problems, ", "), fix)
		return
	}
	d.pass(area, what, "protected")
}

// checkAnchorRepository checks that the anchor repository's default
// branch cannot be rewritten.
func (d *doctor) checkAnchorRepository(ctx context.Context, c *gh.Client) {
	repo := d.cfg.Audit.AnchorRepository
	if repo == "" {
		return // reported with the audit log
	}
	owner, name, _ := strings.Cut(repo, "/")
	r, _, err := c.Repositories.Get(ctx, owner, name)
	if err != nil {
		d.fail(areaAudit, "anchor repository "+repo, err.Error(), "create it and install the App on it with contents: write")
		return
	}
	d.checkBranchProtection(ctx, c, areaAudit, repo, r.GetDefaultBranch(), false)
}
