package evidence_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/webauthntest"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// mfaTeams says who is in which team of the security key environment.
type mfaTeams map[string][]string

func (d mfaTeams) IsTeamMember(_ context.Context, org, team string, who bot.Identity) (bool, error) {
	for _, m := range d[org+"/"+team] {
		if m == who.Login {
			return true, nil
		}
	}
	return false, nil
}

// mainAt is a repository whose main is sha, with no PR and no checks.
type mainAt string

func (m mainAt) ResolveRef(context.Context, string, string) (string, error) { return string(m), nil }
func (m mainAt) BranchContains(context.Context, string, string, string) (bool, error) {
	return true, nil
}
func (mainAt) PullRequestForCommit(context.Context, string, string) (*bot.PullRequest, error) {
	return nil, nil
}
func (mainAt) Checks(context.Context, string, string) ([]bot.CheckResult, error) { return nil, nil }

// okDeployer deploys successfully.
type okDeployer struct{}

func (okDeployer) Deploy(context.Context, bot.DeployJob) (bot.DeployOutcome, error) {
	return bot.DeployOutcome{Result: bot.ResultSucceeded, Release: "rel"}, nil
}
func (okDeployer) Rollback(context.Context, bot.DeployJob) (bot.DeployOutcome, error) {
	return bot.DeployOutcome{Result: bot.ResultSucceeded}, nil
}

func TestPackReverifiesEverySecurityKeyAssertion(t *testing.T) {
	storetest.Run(t, testPackReverifiesEverySecurityKeyAssertion)
}

// testPackReverifiesEverySecurityKeyAssertion: approvals given with a
// security key carry their assertion in the audit log; the pack
// re-verifies each from the entry alone. One whose signature had a byte
// flipped before it was recorded (a transport that did not verify it, or
// a writer who forged it) is reported in approvals.csv and as an
// exception; the audit log itself is intact, so only the re-verification
// can tell.
func testPackReverifiesEverySecurityKeyAssertion(t *testing.T) {
	ctx := context.Background()
	h := evidencetest.Build(t, 12, 3)
	const env, rpID, origin = "production-mfa", "tollgate.example.com", "https://tollgate.example.com"
	team := func(s string) []bot.Team { return []bot.Team{{Org: "acme", Slug: s}} }
	p := &bot.EnvironmentPolicy{Repo: evidencetest.Repo, Environment: env, Production: true, Deployers: team("deployers"),
		Approvers: team("approvers"), RequiredApprovals: 1, Branches: []string{"main"}, ApprovalsRequireWebAuthn: true}
	svc, err := bot.New(bot.Config{Store: h.Store, Directory: mfaTeams{"acme/deployers": {"alice"}, "acme/approvers": {"carol", "dave"}},
		Changes: mainAt(strings.Repeat("c", 40)), Deployer: okDeployer{}, Policies: bot.NewPolicySet(p), Clock: h.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*webauthntest.Authenticator{}
	for _, who := range []bot.Identity{evidencetest.Carol, evidencetest.Dave} {
		keys[who.Login] = webauthntest.New()
		if err := svc.RegisterMFACredential(ctx, who, keys[who.Login].Credential(who.Login+"-key")); err != nil {
			t.Fatal(err)
		}
	}
	approve := func(key string, by bot.Identity, flip bool) string {
		t.Helper()
		h.Clock.Advance(time.Minute)
		out, err := svc.Submit(ctx, bot.NewRequest{SourceKey: key, Repo: evidencetest.Repo, Environment: env, Ref: "main",
			Trigger: bot.TriggerSlack, Requester: evidencetest.Alice})
		if err != nil {
			t.Fatal(err)
		}
		ch := bot.ApprovalChallenge(out.Request)
		ch.Nonce, ch.ExpiresAt = "n-"+key, h.Clock.Now().Add(2*time.Minute)
		proof := keys[by.Login].Assert(ch, by.GitHubID, rpID, origin, webauthntest.UserPresent|webauthntest.UserVerified)
		if flip {
			proof.Signature[len(proof.Signature)/2] ^= 0x01
		}
		if _, err := svc.Approve(ctx, bot.ApproveInput{RequestID: out.Request.ID, Approver: by, MFA: proof}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ProcessQueue(ctx); err != nil {
			t.Fatal(err)
		}
		return out.Request.ID
	}
	good := approve("mfa:good", evidencetest.Carol, false)
	flipped := approve("mfa:flipped", evidencetest.Dave, true)
	if _, err := h.Store.Audit().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	h.To = h.Clock.Now().Truncate(24 * time.Hour).Add(24 * time.Hour)

	out := filepath.Join(t.TempDir(), "pack")
	sum := buildPack(t, h, out, 0, 0)
	if !sum.Verify.OK {
		t.Fatalf("the audit log does not verify: %s (the flipped byte was recorded, not written over the log)", sum.Verify.Problem)
	}
	rows := map[string]map[string]string{}
	plain := 0
	for _, r := range readCSV(t, filepath.Join(out, "approvals.csv")) {
		switch r["request_id"] {
		case good, flipped:
			rows[r["request_id"]] = r
		default:
			if r["mfa"] != "no" || r["mfa_reverifies"] != "" {
				t.Errorf("%s: an approval without a key says mfa %q, %q", r["request_id"], r["mfa"], r["mfa_reverifies"])
			}
			plain++
		}
	}
	if plain == 0 {
		t.Fatal("the generated history has no approvals to compare with")
	}
	if r := rows[good]; r["mfa"] != "yes" || r["mfa_reverifies"] != "yes" {
		t.Errorf("the genuine assertion: mfa %q, mfa_reverifies %q", r["mfa"], r["mfa_reverifies"])
	}
	if r := rows[flipped]; r["mfa"] != "yes" || !strings.HasPrefix(r["mfa_reverifies"], "no: the assertion does not verify") {
		t.Errorf("the flipped byte: mfa %q, mfa_reverifies %q", r["mfa"], r["mfa_reverifies"])
	}
	var found []string
	for _, e := range readCSV(t, filepath.Join(out, "exceptions.csv")) {
		if e["code"] == "mfa_assertion_invalid" {
			found = append(found, e["request_id"])
		}
	}
	if strings.Join(found, ",") != flipped {
		t.Errorf("mfa_assertion_invalid exceptions for %v, want only %s", found, flipped)
	}
}
