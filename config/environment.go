package config

import (
	"path"
	"regexp"
	"slices"
	"time"
)

// Environment is the policy and the deploy targets of one environment of
// one repository.
type Environment struct {
	Repository string // "owner/name"
	Name       string
	Line       int // line of the environment's key in the config file

	Production bool // report as a production environment to GitHub
	Transient  bool // report as a transient (per-PR) environment to GitHub
	// Type is the deploy target's type: TargetSSH (Tollgate deploys to
	// Servers) or TargetActionsGate (GitHub Actions deploys; Tollgate gates
	// it through a deployment protection rule and has no servers).
	Type string
	// GateOnly is Type == TargetActionsGate.
	GateOnly bool
	typeKey  string // how the type was written, for messages

	Deployers         []string // team slugs whose members may request deploys
	Approvers         []string // team slugs whose members may approve
	RequiredApprovals int      // distinct approvers needed (0: none)
	ApprovalTTL       time.Duration
	Approvals         Approvals
	Branches          []string // globs (path.Match) of branches a SHA must be on
	Require           Require
	Emergency         Emergency
	// RequireTicket makes a ticket reference matching TicketPattern
	// mandatory for every request.
	RequireTicket bool
	// TicketPattern recognises a ticket reference (unanchored). Set when
	// RequireTicket or Emergency.RequireTicket is.
	TicketPattern *regexp.Regexp
	Freezes       []FreezeWindow
	AutoDeploy    AutoDeploy
	Labels        []string // PR labels that request a deploy of the PR head

	Servers        []Server
	SSH            SSH
	Path           string   // absolute remote base directory
	KeepReleases   int      // releases kept per server (≥ 2)
	MaxParallel    int      // servers worked on at once
	Shared         []string // paths relative to <path>/shared linked into each release
	Hooks          Hooks
	HealthCheck    *HealthCheck // nil: no health check
	EnvironmentURL string       // shown on GitHub deployments
	Secrets        []Secret     // values redacted from hook output

	// TarballAbovePercent (tarball_above_percent): above this share of the
	// release's bytes changed, or with no previous release, the whole
	// tarball is fetched instead of the changed files; 0 always fetches it.
	TarballAbovePercent int
}

// Require lists the checks a change must pass.
type Require struct {
	PRReview bool // merged PR with an independent approving review
	Checks   bool // CI checks must be green
	// CheckNames, when not empty, are the only contexts that must be green;
	// empty with Checks set means every check.
	CheckNames []string
}

// Emergency configures the emergency path, which skips approvals and
// freezes but never team checks or the audit log.
type Emergency struct {
	Teams         []string      // team slugs allowed to use it; empty: no emergency path
	ReviewWithin  time.Duration // after-the-fact review deadline
	RequireTicket bool          // a ticket reference (TicketPattern) is required
	// RequireWebAuthn asks a security key assertion of whoever deploys an
	// emergency change and of its after-the-fact reviewer.
	RequireWebAuthn bool
}

// AutoDeploy configures continuous deployment.
type AutoDeploy struct {
	OnMergeTo []string // a PR merged into one of these branches deploys the merge commit
}

// Server is one deploy target.
type Server struct {
	Host string
	Port int
	User string
	Path string // absolute deploy directory on this server; the environment's path unless set
}

// SSH holds an environment's own SSH credentials.
type SSH struct {
	PrivateKeyFile string
	KnownHostsFile string
}

// Hooks are shell commands run in the new release on every server.
type Hooks struct {
	BeforeSwitch []string
	AfterSwitch  []string
}

// HealthCheck decides whether a release works after the switch: an HTTP GET
// of URL expecting 2xx, or Command exiting 0 on each server.
type HealthCheck struct {
	URL      string
	Command  string
	Timeout  time.Duration
	Retries  int // extra attempts after the first
	Interval time.Duration
}

// String names the environment as "owner/name/env".
func (e *Environment) String() string { return e.Repository + "/" + e.Name }

// BranchAllowed reports whether branch matches one of the Branches globs.
func (e *Environment) BranchAllowed(branch string) bool {
	for _, g := range e.Branches {
		if ok, _ := path.Match(g, branch); ok {
			return true
		}
	}
	return false
}

// DeploysOnMergeTo reports whether a PR merged into branch deploys here.
func (e *Environment) DeploysOnMergeTo(branch string) bool {
	return slices.Contains(e.AutoDeploy.OnMergeTo, branch)
}

// HasLabel reports whether label requests a deploy to this environment.
func (e *Environment) HasLabel(label string) bool { return slices.Contains(e.Labels, label) }

// SecretValues returns the values to redact from hook output.
func (e *Environment) SecretValues() []string {
	out := make([]string, len(e.Secrets))
	for i, s := range e.Secrets {
		out[i] = s.Value()
	}
	return out
}
