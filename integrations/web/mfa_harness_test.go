package web

import (
	"context"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/mfastate"
)

// mfaHarness is the pages harness with the security key pages on, served
// at http://localhost:PORT (a secure context whose host can be an RP ID;
// an IP address cannot), over a bot.Service that decides approvals: team
// membership from a fixed directory, refs resolved to testSHA.
type mfaHarness struct {
	*harness
	svc    *bot.Service
	srv    *httptest.Server
	public string
	policy *bot.EnvironmentPolicy
}

// teams is a fixed team directory: "org/team" → members.
type teams map[string][]string

func (d teams) IsTeamMember(_ context.Context, org, team string, who bot.Identity) (bool, error) {
	for _, m := range d[org+"/"+team] {
		if strings.EqualFold(m, who.Login) {
			return true, nil
		}
	}
	return false, nil
}

// headAt is a repository whose every ref is testSHA, on every branch,
// with no PR and no checks.
type headAt struct{}

func (headAt) ResolveRef(context.Context, string, string) (string, error)           { return testSHA, nil }
func (headAt) BranchContains(context.Context, string, string, string) (bool, error) { return true, nil }
func (headAt) PullRequestForCommit(context.Context, string, string) (*bot.PullRequest, error) {
	return nil, nil
}
func (headAt) Checks(context.Context, string, string) ([]bot.CheckResult, error) { return nil, nil }

// Slack users of the harness, linked to the GitHub logins of the same name.
var mfaPeople = []string{"alice", "bob", "carol"}

func slackUserOf(login string) string { return "U" + strings.ToUpper(login) }

func newMFAHarness(t *testing.T, adjust ...func(*MFAConfig)) *mfaHarness {
	t.Helper()
	ctx := context.Background()
	hs := newHarness(t)
	team := func(s string) []bot.Team { return []bot.Team{{Org: testOrg, Slug: s}} }
	p := &bot.EnvironmentPolicy{Repo: testRepo, Environment: "production", Production: true, Deployers: team("deployers"),
		Approvers: team("approvers"), RequiredApprovals: 1, ApprovalsRequireWebAuthn: true, Emergency: team("oncall"),
		EmergencyRequireWebAuthn: true}
	svc, err := bot.New(bot.Config{Store: hs.st, Directory: teams{"acme/approvers": {"alice", "bob", "carol"}, "acme/oncall": {"bob"}},
		Changes: headAt{}, Deployer: failOnUse{t}, Policies: bot.NewPolicySet(p), Clock: hs.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	m := &mfaHarness{harness: hs, svc: svc, policy: p}
	for _, login := range mfaPeople {
		id := hs.gh.UserID(login)
		if err := hs.st.SaveLink(ctx, bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1",
			User: slackUserOf(login)}, GitHubLogin: login, GitHubID: id, LinkedAt: hs.clock.Now()},
			bot.AuditEvent{Actor: login, Action: bot.ActionIdentityLinked, Subject: "T1/" + slackUserOf(login)}); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	m.public = strings.Replace(m.srv.URL, "127.0.0.1", "localhost", 1)
	cfg := hs.h.cfg
	cfg.Requests, cfg.PublicURL = svc, m.public
	cfg.MFA = &MFAConfig{Service: svc, States: hs.st, CeremonyTTL: 2 * time.Minute}
	for _, f := range adjust {
		f(cfg.MFA)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.Register(mux)
	return m
}

// request stores a request by alice awaiting approval under the policy.
func (m *mfaHarness) request(t *testing.T, id string) bot.Request {
	t.Helper()
	now := m.clock.Now()
	d := bot.Evaluate(m.policy, &bot.Request{Requester: bot.Identity{Login: "alice"}}, bot.Facts{Now: now})
	r := bot.Request{ID: id, SourceKey: "slack:" + id, Repo: testRepo, Environment: "production", Ref: "main", SHA: testSHA,
		Trigger: bot.TriggerSlack, Requester: bot.Identity{Login: "alice", GitHubID: m.gh.UserID("alice")},
		State: bot.StateAwaitingApproval, ConfigHash: m.policy.Hash(), RequiredApprovals: 1, ApprovalNonce: "nonce-" + id,
		ApprovalDeadline: now.Add(time.Hour), Decision: &d, CreatedAt: now, UpdatedAt: now,
		PR: &bot.PullRequest{Number: 42, Title: "Faster checkout", Author: bot.Identity{Login: "dave"}, Merged: true}}
	if _, _, err := m.st.CreateRequest(context.Background(), r, []bot.AuditEvent{{Actor: "alice",
		Action: bot.ActionRequestCreated, Subject: id, Data: map[string]any{"sha": testSHA}}}); err != nil {
		t.Fatal(err)
	}
	return r
}

// registerLink mints the one-time link /deploy mfa register hands login.
func (m *mfaHarness) registerLink(t *testing.T, login string) string {
	t.Helper()
	key, now := newSecret(), m.clock.Now()
	if err := m.st.SaveMFAState(context.Background(), mfastate.State{Kind: mfastate.KindRegisterLink, Key: key,
		Workspace: "T1", User: slackUserOf(login), CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	return m.public + PathMFARegister + "?t=" + key
}

// approveLink is the link a Slack Approve button opens for r.
func (m *mfaHarness) approveLink(r bot.Request) string {
	return m.public + PathMFAApprove + r.ID + "?t=" + r.MFALinkToken(bot.MFAApprove)
}

// signIn logs login in at the MFA pages' origin and returns the browser.
func (m *mfaHarness) signIn(t *testing.T, login string) *browser {
	t.Helper()
	m.gh.AuthorizeAs(login)
	b := m.browser(true).in(t)
	resp, body := b.get(m.public + "/login?next=/environments")
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/environments" {
		t.Fatalf("signing in as %s ended at %s with %d: %s", login, resp.Request.URL, resp.StatusCode, body)
	}
	return b
}

var scriptDataRE = regexp.MustCompile(`id="mfa-data" hidden data-json="([^"]*)"`)

// scriptDataOf extracts what the page hands its script.
func scriptDataOf(t *testing.T, page string) string {
	t.Helper()
	mt := scriptDataRE.FindStringSubmatch(page)
	if mt == nil {
		t.Fatalf("the page has no #mfa-data:\n%s", page)
	}
	return html.UnescapeString(mt[1])
}

// auditCount counts the entries with action about subject.
func (m *mfaHarness) auditCount(t *testing.T, action, subject string) int {
	t.Helper()
	var n int
	if err := m.st.DB().QueryRow(`SELECT count(*) FROM audit_entries WHERE action = ? AND subject = ?`, action, subject).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// approvals returns the approvals request id has.
func (m *mfaHarness) approvals(t *testing.T, id string) []bot.Approval {
	t.Helper()
	r, err := m.st.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.Approvals
}
