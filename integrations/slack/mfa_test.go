package slack_test

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	tgslack "github.com/tollgate-dev/tollgate/integrations/slack"
	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/internal/mfastate"
	"github.com/tollgate-dev/tollgate/internal/webauthntest"
)

// text is what an immediate answer to a slash command says.
func text(t *testing.T, a answer) string {
	t.Helper()
	var e struct {
		Text string `json:"text"`
	}
	if a.status != 200 || json.Unmarshal([]byte(a.body), &e) != nil {
		t.Fatalf("Tollgate answered %d %s", a.status, a.body)
	}
	return e.Text
}

// linkKey returns the t= secret of the link in an answer.
func linkKey(t *testing.T, answer, path string) string {
	t.Helper()
	link := slacktest.LinkURL(answer)
	u, err := url.Parse(link)
	if err != nil || u.Path != path || u.Query().Get("t") == "" {
		t.Fatalf("answer %q has no link to %s", answer, path)
	}
	return u.Query().Get("t")
}

func TestMFACommands(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.linkAll()
	bob := bot.Identity{Login: "bob", GitHubID: w.gh.UserID("bob")}

	if got := text(t, w.command("U0BOB", "mfa list")); !strings.Contains(got, "You have no security key registered") {
		t.Errorf("/deploy mfa list: %q", got)
	}
	got := text(t, w.command("U0BOB", "mfa register"))
	key := linkKey(t, got, "/mfa/register")
	if !strings.Contains(got, "works once, and expires in 10 minutes") {
		t.Errorf("/deploy mfa register: %q", got)
	}
	st, err := w.st.ConsumeMFAState(ctx, mfastate.KindRegisterLink, key, w.clock.Now())
	if err != nil || st.Workspace != slacktest.DefaultTeamID || st.User != "U0BOB" {
		t.Fatalf("the link's state: %+v, %v", st, err)
	}
	if got := text(t, w.command("U0ERIN", "mfa register")); !strings.Contains(got, "link your GitHub account first") {
		t.Errorf("an unlinked user's /deploy mfa register: %q", got)
	}

	for _, name := range []string{"yubikey", "spare"} {
		if err := w.svc.RegisterMFACredential(ctx, bob, webauthntest.New().Credential(name)); err != nil {
			t.Fatal(err)
		}
	}
	if got := text(t, w.command("U0BOB", "mfa list")); !strings.Contains(got, "`yubikey` registered") || !strings.Contains(got, "`spare` registered") {
		t.Errorf("/deploy mfa list: %q", got)
	}
	if got := text(t, w.command("U0BOB", "mfa remove laptop")); !strings.Contains(got, `no security key named "laptop"`) {
		t.Errorf("removing a key bob does not have: %q", got)
	}
	if got := text(t, w.command("U0BOB", "mfa remove spare")); !strings.Contains(got, "`spare` is removed") {
		t.Errorf("removing bob's key: %q", got)
	}

	// Revoking someone else's key: carol is no admin, dave is.
	refused := w.nextEphemeral("U0CAROL", func() answer { return w.command("U0CAROL", "mfa revoke bob yubikey laptop stolen") })
	if !strings.Contains(refused, "only members of acme/admins may revoke") {
		t.Errorf("carol revoking: %q", refused)
	}
	done := w.nextEphemeral("U0DAVE", func() answer { return w.command("U0DAVE", "mfa revoke @bob yubikey laptop stolen") })
	if !strings.Contains(done, "Revoked security key `yubikey` of bob: laptop stolen") {
		t.Errorf("dave revoking: %q", done)
	}
	if cs, _ := w.svc.MFACredentials(ctx, bob.GitHubID); len(cs) != 0 {
		t.Errorf("bob still has %+v", cs)
	}
	if w.auditCount(bot.ActionMFARevoked, `"revoked_by":"dave"`) != 1 || w.auditCount(bot.ActionMFARemoved, `"name":"spare"`) != 1 {
		t.Error("the removal and the revocation are not both audited")
	}
	if got := text(t, w.command("U0BOB", "mfa frobnicate")); !strings.Contains(got, "/deploy mfa register") {
		t.Errorf("a bad mfa command: %q", got)
	}
}

func TestApproveButtonOpensTheSecurityKeyPage(t *testing.T) {
	w := newWorld(t, func(p, _ *bot.EnvironmentPolicy) { p.ApprovalsRequireWebAuthn = true })
	w.linkAll()
	if a := w.command("U0ALICE", "production"); !strings.Contains(a.body, "Working on") {
		t.Fatalf("/deploy production answered %d %s", a.status, a.body)
	}
	msg := w.approvalMessage()
	r := w.onlyRequest()
	var blocks []struct {
		Elements []struct {
			ActionID string `json:"action_id"`
			URL      string `json:"url"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(msg.Blocks, &blocks); err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, b := range blocks {
		for _, e := range b.Elements {
			if e.ActionID != "" {
				found = append(found, e.ActionID)
			}
			if e.ActionID == tgslack.ActionApproveWebAuthn {
				if want := publicURL + "/mfa/approve/" + r.ID + "?t=" + r.MFALinkToken(bot.MFAApprove); e.URL != want {
					t.Errorf("the button opens %q, want %q", e.URL, want)
				}
				if strings.Contains(e.URL, r.ApprovalNonce) || strings.Contains(e.Value, r.ApprovalNonce) {
					t.Error("the button shows the approval nonce")
				}
			}
		}
	}
	if strings.Join(found, " ") != tgslack.ActionApproveWebAuthn+" "+tgslack.ActionReject {
		t.Errorf("buttons %v", found)
	}
	told := w.nextEphemeral("U0BOB", func() answer {
		return w.sendClick(w.clickParams("U0BOB", tgslack.ActionApproveWebAuthn, msg.TS, r.ID))
	})
	if !strings.Contains(told, "The click in Slack alone records nothing") {
		t.Errorf("bob was told %q", told)
	}
	if r := w.onlyRequest(); len(r.Approvals) != 0 || r.State != bot.StateAwaitingApproval {
		t.Errorf("after the click: %s with %d approvals", r.State, len(r.Approvals))
	}
}

func TestEmergencyWithSecurityKeyAnswersWithALink(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, func(p, _ *bot.EnvironmentPolicy) { p.EmergencyRequireWebAuthn = true })
	w.linkAll()
	before := w.inboxSize()
	got := text(t, w.command("U0ALICE", "emergency production main INC-7 checkout is down"))
	key := linkKey(t, got, "/mfa/emergency")
	if !strings.Contains(got, "need your security key") || w.inboxSize() != before {
		t.Errorf("/deploy emergency answered %q (inbox %d → %d)", got, before, w.inboxSize())
	}
	st, err := w.st.ConsumeMFAState(ctx, mfastate.KindEmergencyLink, key, w.clock.Now())
	if err != nil || st.User != "U0ALICE" {
		t.Fatalf("the link's state: %+v, %v", st, err)
	}
	var ask mfastate.EmergencyAsk
	if err := json.Unmarshal(st.Data, &ask); err != nil || ask.Repo != repo || ask.Environment != "production" ||
		ask.Ref != "main" || ask.Reason != "INC-7 checkout is down" || !strings.HasPrefix(ask.SourceKey, "slack:") {
		t.Errorf("the change asked for: %+v, %v", ask, err)
	}
	if rs, _ := w.st.ListRequests(ctx, bot.RequestFilter{Limit: 10}); len(rs) != 0 {
		t.Errorf("requests were created before the key: %+v", rs)
	}
}

func TestEmergencyReviewButtonOpensTheSecurityKeyPage(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, func(p, _ *bot.EnvironmentPolicy) { p.EmergencyRequireWebAuthn = true })
	w.linkAll()
	alice := bot.Identity{Login: "alice", GitHubID: w.gh.UserID("alice"), ChatUser: slacktest.DefaultTeamID + "/U0ALICE"}
	key := webauthntest.New()
	if err := w.svc.RegisterMFACredential(ctx, alice, key.Credential("alice-key")); err != nil {
		t.Fatal(err)
	}
	in := bot.NewRequest{SourceKey: "slack:em-1", Repo: repo, Environment: "production", Ref: "main",
		Trigger: bot.TriggerEmergency, Requester: alice, Reason: "INC-7 checkout is down"}
	sha, hash, err := w.svc.ResolveEmergency(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	ch := bot.EmergencyChallenge(in.SourceKey, sha, hash, in.Reason)
	ch.Nonce, ch.ExpiresAt = "n", w.clock.Now().Add(2*time.Minute)
	in.MFA = key.Assert(ch, alice.GitHubID, "tollgate.example", publicURL, webauthntest.UserPresent|webauthntest.UserVerified)
	out, err := w.svc.Submit(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	msg := w.messageWithButton(channel, tgslack.ActionReviewWebAuthn)
	want := publicURL + "/mfa/review/" + out.Request.ID + "?t=" + out.Request.MFALinkToken(bot.MFAEmergencyReview)
	if !strings.Contains(string(msg.Blocks), `"url":"`+want+`"`) || strings.Contains(string(msg.Blocks), tgslack.ActionReviewAcceptable) {
		t.Errorf("the review message's buttons: %s", msg.Blocks)
	}
}
