package bot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// DefaultApprovalTTL is how long an approval stays valid when the
// environment does not say (issue 4: approval_ttl, default 1 h).
const DefaultApprovalTTL = time.Hour

// Team is a GitHub team, "org/slug" in configuration.
type Team struct {
	Org  string
	Slug string
}

// ParseTeam parses "org/slug".
func ParseTeam(s string) (Team, error) {
	org, slug, ok := strings.Cut(s, "/")
	if !ok || org == "" || slug == "" || strings.Contains(slug, "/") {
		return Team{}, fmt.Errorf("team %q: want org/team-slug", s)
	}
	return Team{Org: org, Slug: slug}, nil
}

func (t Team) String() string { return t.Org + "/" + t.Slug }

// EnvironmentPolicy is what one repository's environment demands before a
// deploy, converted from the server configuration (never from the PR being
// deployed).
type EnvironmentPolicy struct {
	Repo              string
	Environment       string
	Deployers         []Team
	Approvers         []Team
	Emergency         []Team // who may use the emergency path
	Admins            []Team // who may unlock someone else's lock
	RequiredApprovals int
	ApprovalTTL       time.Duration // 0 means DefaultApprovalTTL
	Branches          []string      // the SHA must be the head of, or merged into, one of these (names or path.Match patterns)
	RequirePRReview   bool
	RequireChecks     bool
	RequiredContexts  []string       // when set, only these checks must be green
	TicketPattern     *regexp.Regexp // when set, a matching ticket reference is required
	// EmergencyTicketPattern, when set, requires a matching ticket on the
	// emergency path even where TicketPattern is not set
	// (emergency.require_ticket).
	EmergencyTicketPattern *regexp.Regexp
	// EmergencyReviewWithin is the after-the-fact review deadline of an
	// emergency change (emergency.review_within); 0 means 24 h.
	EmergencyReviewWithin time.Duration
	FreezeWindows         []FreezeWindow
	Production            bool
	// ApprovalsRequireWebAuthn makes an approval count only with a fresh
	// WebAuthn assertion over what is approved (approvals.require_webauthn).
	ApprovalsRequireWebAuthn bool
	// EmergencyRequireWebAuthn asks the same of the emergency path: of
	// whoever deploys an emergency change, and of its after-the-fact
	// reviewer (emergency.require_webauthn).
	EmergencyRequireWebAuthn bool

	// Routing: a pull request merged into one of OnMergeTo deploys its
	// merge commit here; a pull request labelled with one of Labels deploys
	// its head here (see routing.go).
	OnMergeTo []string
	Labels    []string
}

// DefaultRef is what a deploy naming no ref deploys: the first allowed
// branch that is a name, not a pattern ("release/*" names no one branch);
// "" when there is none, so the requester must say what to deploy.
func (p *EnvironmentPolicy) DefaultRef() string {
	for _, b := range p.Branches {
		if !strings.ContainsAny(b, `*?[\`) {
			return b
		}
	}
	return ""
}

// approvalTTL returns the TTL in force.
func (p *EnvironmentPolicy) approvalTTL() time.Duration {
	if p.ApprovalTTL <= 0 {
		return DefaultApprovalTTL
	}
	return p.ApprovalTTL
}

// Hash is a stable digest of the policy. An approval is bound to it, so an
// approval given under one configuration does not count under another.
func (p *EnvironmentPolicy) Hash() string {
	type window struct {
		Name             string
		Start, End       int64         // unix nanoseconds: unlike time.Time, always encodable
		Weekly           *WeeklyWindow `json:",omitempty"`
		WeeklyLocationID string        `json:",omitempty"`
	}
	v := struct {
		Repo, Environment                      string
		Deployers, Approvers, Emergency, Admin []string
		RequiredApprovals                      int
		ApprovalTTL                            time.Duration
		Branches, RequiredContexts             []string
		RequirePRReview, RequireChecks         bool
		TicketPattern                          string
		Freeze                                 []window
		Production                             bool
		EmergencyTicketPattern                 string `json:",omitempty"`
		// omitempty: policies that do not ask for a security key keep the
		// hash they had before these settings existed.
		ApprovalsRequireWebAuthn bool `json:",omitempty"`
		EmergencyRequireWebAuthn bool `json:",omitempty"`
	}{
		Repo: p.Repo, Environment: p.Environment,
		Deployers: teamStrings(p.Deployers), Approvers: teamStrings(p.Approvers),
		Emergency: teamStrings(p.Emergency), Admin: teamStrings(p.Admins),
		RequiredApprovals: p.RequiredApprovals, ApprovalTTL: p.approvalTTL(),
		Branches: p.Branches, RequiredContexts: p.RequiredContexts,
		RequirePRReview: p.RequirePRReview, RequireChecks: p.RequireChecks,
		Production: p.Production, ApprovalsRequireWebAuthn: p.ApprovalsRequireWebAuthn,
		EmergencyRequireWebAuthn: p.EmergencyRequireWebAuthn,
	}
	if p.TicketPattern != nil {
		v.TicketPattern = p.TicketPattern.String()
	}
	if p.EmergencyTicketPattern != nil {
		v.EmergencyTicketPattern = p.EmergencyTicketPattern.String()
	}
	for _, w := range p.FreezeWindows {
		fw := window{Name: w.Name, Start: w.Start.UnixNano(), End: w.End.UnixNano(), Weekly: w.Weekly}
		if w.Weekly != nil && w.Weekly.Location != nil {
			fw.WeeklyLocationID = w.Weekly.Location.String()
		}
		v.Freeze = append(v.Freeze, fw)
	}
	b, _ := json.Marshal(v) // strings, numbers and bools only: cannot fail
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

func teamStrings(ts []Team) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

// Lock holds an environment: while it is held, no one but its owner starts
// a deploy there, whatever the trigger.
type Lock struct {
	Repo        string
	Environment string
	Owner       Identity
	Reason      string
	CreatedAt   time.Time
	ExpiresAt   time.Time // zero means no expiry
}

// Active reports whether the lock is in force at now.
func (l *Lock) Active(now time.Time) bool {
	return l != nil && (l.ExpiresAt.IsZero() || now.Before(l.ExpiresAt))
}
