package bot

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// CheckState is the state of one CI status context or check run, reduced
// to what policy needs.
type CheckState string

// Check states. Neutral and skipped check runs count as green, as GitHub's
// branch protection counts them.
const (
	CheckSuccess CheckState = "success"
	CheckNeutral CheckState = "neutral"
	CheckSkipped CheckState = "skipped"
	CheckPending CheckState = "pending"
	CheckFailure CheckState = "failure"
	CheckError   CheckState = "error"
)

func (s CheckState) green() bool {
	return s == CheckSuccess || s == CheckNeutral || s == CheckSkipped
}

// CheckResult is one status context or check run on a SHA.
type CheckResult struct {
	Name  string
	State CheckState
}

// Membership is one looked-up team membership.
type Membership struct {
	Team   Team
	Login  string
	Member bool // an active member
}

// Facts is everything policy needs, fetched before deciding, so the
// decision is a pure function of them and can be replayed.
type Facts struct {
	Now            time.Time
	Memberships    []Membership    // requester's memberships in the teams that matter
	BranchContains map[string]bool // allowed branch → whether the SHA is its head or merged into it
	PR             *PullRequest    // the PR the SHA came through; nil when none
	Checks         []CheckResult
	Lock           *Lock // the environment's lock, if any
	// MFA is the requester's security key assertion over an emergency
	// change, already checked by Submit; nil when there is none.
	MFA *MFAProof
	// MFAConfirmed is, at the recheck before an emergency change starts,
	// how Submit found it confirmed with a security key (its decision's
	// emergency_mfa check); "" when it was not.
	MFAConfirmed string
	// RoleOnly says the requester holds no role here, so nothing else was
	// fetched: the other checks are recorded as not made.
	RoleOnly bool
}

// Evaluate decides whether req may proceed under p given facts. It does no
// I/O. Every check is recorded, passing or not.
func Evaluate(p *EnvironmentPolicy, req *Request, f Facts) Decision {
	d := Decision{ConfigHash: p.Hash(), At: f.Now}
	emergency := req.Trigger == TriggerEmergency
	rollback := req.Trigger == TriggerRollback

	if req.Requester.Login == "" {
		d.fail(CheckRequester, "requester identity", CodeNotLinked, "the requester has no GitHub identity; link your account first")
	}

	if emergency {
		checkTeams(&d, CheckEmergency, p.Emergency, req.Requester, f.Memberships, CodeNotEmergency,
			"the emergency path is only for members of %s")
		if strings.TrimSpace(req.Reason) == "" {
			d.fail(CheckReason, "request reason", CodeReasonMissing, "an emergency change needs a reason")
		} else {
			d.pass(CheckReason, "request reason", "reason given")
		}
	} else {
		checkTeams(&d, CheckDeployer, p.Deployers, req.Requester, f.Memberships, CodeNotDeployer,
			"only members of %s may deploy here")
	}
	if f.RoleOnly {
		for _, name := range []string{CheckTicket, CheckBranch, CheckPRReview, CheckChecks, CheckFreeze, CheckLock} {
			d.skip(name, "not checked: the requester holds no role here")
		}
		d.finish()
		return d
	}

	checkTicket(&d, p, req)

	if rollback {
		d.skip(CheckBranch, "a rollback returns to a release that was already deployed")
		d.skip(CheckPRReview, "a rollback returns to a release that was already deployed")
		d.skip(CheckChecks, "a rollback returns to a release that was already deployed")
	} else {
		checkBranch(&d, p, req, f.BranchContains)
		if req.Trigger == TriggerLabel {
			checkLabelHead(&d, req, f.PR)
		}
		checkReview(&d, p, req, f.PR)
		checkCI(&d, p, req, f.Checks)
	}
	if req.Trigger == TriggerProtectionRule {
		checkRunEvent(&d, req.ProtectionRule)
	}

	if emergency {
		d.skip(CheckFreeze, "the emergency path overrides freeze windows")
	} else {
		checkFreeze(&d, p, f.Now)
	}
	checkLock(&d, req, f.Lock, f.Now)
	checkMFAPolicy(&d, p, emergency, f.MFA, f.MFAConfirmed)

	d.finish()
	return d
}

func checkTeams(d *Decision, name string, teams []Team, who Identity, ms []Membership, code RefusalCode, refusal string) {
	lookedUp := fmt.Sprintf("membership of %s in %s", who.Login, strings.Join(teamStrings(teams), ", "))
	if len(teams) == 0 {
		d.fail(name, lookedUp, code, "no team is configured for this; ask an admin to configure one")
		return
	}
	for _, m := range ms {
		if m.Member && strings.EqualFold(m.Login, who.Login) && containsTeam(teams, m.Team) {
			d.pass(name, lookedUp, fmt.Sprintf("%s is an active member of %s", who.Login, m.Team))
			return
		}
	}
	d.fail(name, lookedUp, code, fmt.Sprintf(refusal, strings.Join(teamStrings(teams), ", "))+
		fmt.Sprintf(", and %s is not an active member", who.Login))
}

func containsTeam(ts []Team, t Team) bool {
	for _, x := range ts {
		if strings.EqualFold(x.Org, t.Org) && strings.EqualFold(x.Slug, t.Slug) {
			return true
		}
	}
	return false
}

// ticketPatternFor returns the ticket pattern in force for req: the
// environment's, or on the emergency path its emergency-only one.
func (p *EnvironmentPolicy) ticketPatternFor(req *Request) *regexp.Regexp {
	if p.TicketPattern == nil && req.Trigger == TriggerEmergency {
		return p.EmergencyTicketPattern
	}
	return p.TicketPattern
}

// FindTicket returns the first match of the pattern in force in the
// request's ticket, reason, PR title, PR body and branch name, in that order.
func FindTicket(p *EnvironmentPolicy, req *Request) string {
	pattern := p.ticketPatternFor(req)
	if pattern == nil {
		return ""
	}
	sources := []string{req.Ticket, req.Reason}
	if req.PR != nil {
		sources = append(sources, req.PR.Title, req.PR.Body, req.PR.HeadRef)
	}
	for _, s := range sources {
		if m := pattern.FindString(s); m != "" {
			return m
		}
	}
	return ""
}

func checkTicket(d *Decision, p *EnvironmentPolicy, req *Request) {
	pattern := p.ticketPatternFor(req)
	if pattern == nil {
		d.skip(CheckTicket, "no ticket required for this environment")
		return
	}
	lookedUp := fmt.Sprintf("ticket matching %s in command, reason, PR title, body and branch", pattern)
	if t := FindTicket(p, req); t != "" {
		d.Ticket = t
		d.pass(CheckTicket, lookedUp, "ticket "+t)
		return
	}
	d.fail(CheckTicket, lookedUp, CodeTicketMissing,
		fmt.Sprintf("a change ticket matching %s is required; add it to the command or the PR title", pattern))
}

func checkBranch(d *Decision, p *EnvironmentPolicy, req *Request, contains map[string]bool) {
	if len(p.Branches) == 0 {
		d.skip(CheckBranch, "no branch restriction for this environment")
		return
	}
	lookedUp := fmt.Sprintf("whether %s is on %s", short(req.SHA), strings.Join(p.Branches, ", "))
	for _, b := range p.Branches {
		if contains[b] {
			d.pass(CheckBranch, lookedUp, fmt.Sprintf("%s is on %s", short(req.SHA), b))
			return
		}
	}
	d.fail(CheckBranch, lookedUp, CodeBranchNotAllowed,
		fmt.Sprintf("%s is not on an allowed branch (%s); merge it first", short(req.SHA), strings.Join(p.Branches, ", ")))
}

// checkLabelHead refuses a label trigger whose SHA is no longer the head
// of its pull request: the label event was delivered late, or replayed
// after the PR moved on, and the commit it names is not what the PR now
// proposes.
func checkLabelHead(d *Decision, req *Request, pr *PullRequest) {
	lookedUp := fmt.Sprintf("whether %s is the head of its pull request now", short(req.SHA))
	switch {
	case pr == nil:
		d.fail(CheckPRHead, lookedUp, CodeStaleSHA, fmt.Sprintf("%s is not the head of any pull request", short(req.SHA)))
	case pr.HeadSHA != req.SHA:
		d.fail(CheckPRHead, lookedUp, CodeStaleSHA, fmt.Sprintf(
			"the label asked for %s, but PR #%d's head is now %s; add the label again to deploy the current head",
			short(req.SHA), pr.Number, short(pr.HeadSHA)))
	default:
		d.pass(CheckPRHead, lookedUp, fmt.Sprintf("%s is the head of PR #%d", short(req.SHA), pr.Number))
	}
}

func checkReview(d *Decision, p *EnvironmentPolicy, req *Request, pr *PullRequest) {
	if !p.RequirePRReview {
		d.skip(CheckPRReview, "no PR review required for this environment")
		return
	}
	lookedUp := fmt.Sprintf("merged pull request for %s and its reviews", short(req.SHA))
	if pr == nil {
		d.fail(CheckPRReview, lookedUp, CodeNoReview,
			fmt.Sprintf("%s did not come through a pull request; open one and get it reviewed", short(req.SHA)))
		return
	}
	if !pr.Merged {
		d.fail(CheckPRReview, lookedUp, CodeNoReview, fmt.Sprintf("PR #%d is not merged", pr.Number))
		return
	}
	approvals, noAccess := independentApprovals(pr)
	final := -1
	for i, r := range approvals {
		if r.CommitID == pr.HeadSHA {
			final = i
			break
		}
	}
	if final < 0 {
		why := ""
		if len(noAccess) > 0 {
			why = fmt.Sprintf(" (approvals by %s do not count: no write access to %s)", strings.Join(noAccess, ", "), req.Repo)
		}
		d.fail(CheckPRReview, lookedUp, CodeNoReview, fmt.Sprintf(
			"PR #%d has no approving review on its final commit %s by someone other than its author %s with write access%s",
			pr.Number, short(pr.HeadSHA), pr.Author.Login, why))
		return
	}
	r := approvals[final]
	if how, ok := reviewedCommit(req.SHA, pr, approvals); ok {
		d.pass(CheckPRReview, lookedUp, fmt.Sprintf("PR #%d by %s approved by %s on %s at %s%s",
			pr.Number, pr.Author.Login, r.User.Login, short(r.CommitID), r.SubmittedAt.UTC().Format(time.RFC3339), how))
		return
	}
	nearest := pr.MergedSHA
	if nearest == "" {
		nearest = pr.HeadSHA
	}
	d.fail(CheckPRReview, lookedUp, CodeNoReview, fmt.Sprintf(
		"%s is not a reviewed commit of PR #%d: the review covers its final commit %s and its merge %s, not the commits before; deploy %s instead",
		short(req.SHA), pr.Number, short(pr.HeadSHA), short(pr.MergedSHA), short(nearest)))
}

// independentApprovals returns the approving reviews that count: not
// dismissed, not by the PR's author, by someone with write access to the
// repository (GitHub's own rule for required reviews). noAccess names the
// approvers left out for lack of write access.
func independentApprovals(pr *PullRequest) (counted []Review, noAccess []string) {
	for _, r := range pr.Reviews {
		if r.State != ReviewApproved || r.Dismissed || r.User.Same(pr.Author) {
			continue
		}
		if !r.WriteAccess() {
			noAccess = append(noAccess, r.User.Login)
			continue
		}
		counted = append(counted, r)
	}
	return counted, noAccess
}

// reviewedCommit reports whether sha holds reviewed content: it is a
// commit an independent approval was given on, the PR's merge commit
// (merge, squash or rebase result of the approved head), or a commit
// whose tree equals one of those. Any other commit reachable through the
// PR (an intermediate "backdoor" the final head reverted) was never
// reviewed as such. how says which rule matched, for the decision record.
func reviewedCommit(sha string, pr *PullRequest, approvals []Review) (how string, ok bool) {
	reviewed := []string{}
	for _, r := range approvals {
		reviewed = append(reviewed, r.CommitID)
	}
	if pr.MergedSHA != "" {
		reviewed = append(reviewed, pr.MergedSHA)
	}
	for _, c := range reviewed {
		if c == sha {
			return "", true
		}
	}
	tree := pr.Trees[sha]
	if tree == "" {
		return "", false
	}
	for _, c := range reviewed {
		if pr.Trees[c] == tree {
			return fmt.Sprintf("; %s has the same tree as the reviewed %s", short(sha), short(c)), true
		}
	}
	return "", false
}

func checkCI(d *Decision, p *EnvironmentPolicy, req *Request, checks []CheckResult) {
	if !p.RequireChecks {
		d.skip(CheckChecks, "no CI checks required for this environment")
		return
	}
	lookedUp := fmt.Sprintf("combined status and check runs of %s", short(req.SHA))
	var bad []string
	if len(p.RequiredContexts) > 0 {
		lookedUp += " (required: " + strings.Join(p.RequiredContexts, ", ") + ")"
		for _, name := range p.RequiredContexts {
			st, ok := checkState(checks, name)
			switch {
			case !ok:
				bad = append(bad, name+" missing")
			case !st.green():
				bad = append(bad, name+" "+string(st))
			}
		}
	} else {
		if len(checks) == 0 {
			bad = append(bad, "no checks reported")
		}
		for _, c := range checks {
			if !c.State.green() {
				bad = append(bad, c.Name+" "+string(c.State))
			}
		}
	}
	if len(bad) > 0 {
		d.fail(CheckChecks, lookedUp, CodeChecksFailed,
			fmt.Sprintf("checks on %s are not green: %s", short(req.SHA), strings.Join(bad, ", ")))
		return
	}
	green := fmt.Sprintf("%d checks green", len(checks))
	if len(checks) == 1 {
		green = "1 check green"
	}
	d.pass(CheckChecks, lookedUp, green)
}

// checkState returns the state of the named check; when a name appears
// more than once (re-runs, a status and a check run), any non-green wins.
func checkState(checks []CheckResult, name string) (CheckState, bool) {
	var st CheckState
	found := false
	for _, c := range checks {
		if c.Name != name {
			continue
		}
		if !found || !c.State.green() {
			st = c.State
		}
		found = true
	}
	return st, found
}

func checkFreeze(d *Decision, p *EnvironmentPolicy, now time.Time) {
	if len(p.FreezeWindows) == 0 {
		d.skip(CheckFreeze, "no freeze windows for this environment")
		return
	}
	lookedUp := fmt.Sprintf("%d freeze windows at %s", len(p.FreezeWindows), now.UTC().Format(time.RFC3339))
	for _, w := range p.FreezeWindows {
		if on, end := w.ActiveAt(now); on {
			d.fail(CheckFreeze, lookedUp, CodeFrozen, fmt.Sprintf(
				"%s is frozen by %q until %s; only the emergency path deploys now",
				p.Environment, w.Name, end.UTC().Format(time.RFC3339)))
			return
		}
	}
	d.pass(CheckFreeze, lookedUp, "no freeze window in force")
}

func checkLock(d *Decision, req *Request, l *Lock, now time.Time) {
	lookedUp := "lock on " + req.Repo + " " + req.Environment
	switch {
	case !l.Active(now):
		d.pass(CheckLock, lookedUp, "not locked")
	case l.Owner.Same(req.Requester):
		d.pass(CheckLock, lookedUp, "locked by the requester")
	default:
		d.fail(CheckLock, lookedUp, CodeLocked, fmt.Sprintf("%s is locked by %s since %s: %s",
			req.Environment, l.Owner.Login, l.CreatedAt.UTC().Format(time.RFC3339), l.Reason))
	}
}

// short abbreviates a SHA for messages.
func short(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}

// checkMFAPolicy records what the policy asks of security keys: for an
// emergency change, the requester's assertion (Submit checked it; at the
// start recheck, confirmed says Submit found it); for any other change
// that needs approvals, that each approval needs one.
func checkMFAPolicy(d *Decision, p *EnvironmentPolicy, emergency bool, proof *MFAProof, confirmed string) {
	switch {
	case emergency && p.EmergencyRequireWebAuthn && proof == nil && confirmed == "":
		d.fail(CheckEmergencyMFA, "emergency.require_webauthn", CodeMFARequired,
			"an emergency change here must be confirmed with a security key or passkey")
	case emergency && p.EmergencyRequireWebAuthn && proof == nil:
		d.pass(CheckEmergencyMFA, "emergency.require_webauthn", "at submission: "+confirmed)
	case emergency && p.EmergencyRequireWebAuthn:
		d.pass(CheckEmergencyMFA, "emergency.require_webauthn",
			fmt.Sprintf("confirmed with security key %q", proof.CredentialName))
	case !emergency && p.ApprovalsRequireWebAuthn && p.RequiredApprovals > 0:
		d.pass(CheckApprovalMFA, "approvals.require_webauthn",
			"each approval needs a security key or passkey (WebAuthn) over this request")
	}
}
