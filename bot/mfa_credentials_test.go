package bot_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestMFACredentialsRegisterListRemoveRevoke(t *testing.T) {
	storetest.Run(t, testMFACredentialsRegisterListRemoveRevoke)
}

func testMFACredentialsRegisterListRemoveRevoke(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	svc, err := bot.New(bot.Config{Store: w.store, Directory: w.dir, Changes: w.changes, Deployer: w.deployer,
		Policies: w.policies, Clock: w.clock.Now, Admins: func() []bot.Team { return []bot.Team{{Org: "acme", Slug: "admins"}} }})
	if err != nil {
		t.Fatal(err)
	}
	register(t, svc, carol, key("yubikey", 3))
	register(t, svc, carol, key("laptop", 4))

	refusals := []struct {
		name   string
		do     func() error
		code   bot.RefusalCode
		reason string
	}{
		{"a name that is not typeable", func() error { return svc.RegisterMFACredential(ctx, carol, key("my key!", 5)) },
			bot.CodeBadCommand, "name the key"},
		{"the same name twice", func() error { return svc.RegisterMFACredential(ctx, carol, key("yubikey", 6)) },
			bot.CodeMFANameTaken, `named "yubikey"`},
		{"a key registered already, by someone else", func() error { return svc.RegisterMFACredential(ctx, bob, key("mine", 3)) },
			bot.CodeMFANameTaken, "registered already"},
		{"removing a key one does not have", func() error { return svc.RemoveMFACredential(ctx, bob, "yubikey") },
			bot.CodeMFAUnknown, `no security key named "yubikey"`},
		{"revoking without being an admin", func() error {
			return svc.RevokeMFACredential(ctx, bob, "carol", "laptop", "lost")
		}, bot.CodeNotAllowed, "only members of acme/admins"},
		{"revoking a key that does not exist", func() error { return svc.RevokeMFACredential(ctx, dave, "carol", "phone", "lost") },
			bot.CodeMFAUnknown, `carol has no security key named "phone"`},
		{"revoking without a reason", func() error {
			return svc.RevokeMFACredential(ctx, dave, "carol", "laptop", " ")
		}, bot.CodeReasonMissing, "say why"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) { wantRefusal(t, tt.do(), tt.code, tt.reason) })
	}
	if cs, _ := svc.MFACredentials(ctx, carol.GitHubID); len(cs) != 2 {
		t.Fatalf("after the refusals carol has %d keys, want 2", len(cs))
	}

	if err := svc.RemoveMFACredential(ctx, carol, "yubikey"); err != nil {
		t.Fatal(err)
	}
	if err := svc.RevokeMFACredential(ctx, dave, "Carol", "laptop", "laptop stolen"); err != nil {
		t.Fatal(err)
	}
	if cs, _ := svc.MFACredentials(ctx, carol.GitHubID); len(cs) != 0 {
		t.Errorf("carol still has %+v", cs)
	}
	for action, want := range map[string][]string{
		bot.ActionMFARegistered: {`"name":"yubikey"`, `"public_key":"pQED"`, `"github_id":3`},
		bot.ActionMFARemoved:    {`"name":"yubikey"`},
		bot.ActionMFARevoked:    {`"name":"laptop"`, `"revoked_by":"dave"`, `"reason":"laptop stolen"`, `"teams":["acme/admins"]`},
	} {
		data := strings.Join(w.auditData(t, "carol", action), "\n")
		for _, s := range want {
			if !strings.Contains(data, s) {
				t.Errorf("%s entries lack %s: %s", action, s, data)
			}
		}
	}
	if got := len(w.auditData(t, "carol", bot.ActionActionRefused)); got != 5 {
		t.Errorf("%d refusals audited about carol's keys, want 5 (bad name, name taken, three revocations)", got)
	}
}

func TestEmergencyChangeNeedsTheRequestersAssertion(t *testing.T) {
	storetest.Run(t, testEmergencyChangeNeedsTheRequestersAssertion)
}

func testEmergencyChangeNeedsTheRequestersAssertion(t *testing.T) {
	ctx := context.Background()
	w := newComplianceWorld(t)
	w.policies["acme/shop"]["production"].EmergencyRequireWebAuthn = true
	erinKey := register(t, w.svc, erin, key("oncall-key", 5))
	hash, needed := w.svc.EmergencyNeedsMFA("acme/shop", "production")
	if !needed || hash != w.policies["acme/shop"]["production"].Hash() {
		t.Fatalf("EmergencyNeedsMFA = %q, %v", hash, needed)
	}
	now := w.clock.Now()
	emergency := func(key string, proof *bot.MFAProof) (bot.Outcome, error) {
		return w.svc.Submit(ctx, bot.NewRequest{SourceKey: key, Repo: "acme/shop", Environment: "production", Ref: "main",
			Trigger: bot.TriggerEmergency, Requester: erin, Reason: "site down", MFA: proof})
	}

	out, err := emergency("slack:em-1", nil)
	wantRefusal(t, err, bot.CodeMFARequired, "confirmed with a security key")
	if out.Request.State != bot.StateRejected {
		t.Errorf("an emergency change without a security key is %s, want rejected", out.Request.State)
	}

	otherReason := assertion{ch: fresh(bot.EmergencyChallenge("slack:em-2", shaMain, hash, "something else"), now), by: erin, c: erinKey, count: 1}
	if _, err := emergency("slack:em-2", otherReason.proof()); err == nil {
		t.Fatal("an assertion over another reason was accepted")
	} else {
		wantRefusal(t, err, bot.CodeMFAInvalid, "made for something else")
	}
	if _, err := w.svc.Request(ctx, "slack:em-2"); err == nil {
		t.Error("a refused emergency change was stored")
	}

	good := assertion{ch: fresh(bot.EmergencyChallenge("slack:em-3", shaMain, hash, "site down"), now), by: erin, c: erinKey, count: 2}
	out, err = emergency("slack:em-3", good.proof())
	if err != nil || out.Request.State != bot.StateQueued {
		t.Fatalf("an emergency change confirmed with erin's key: %s, %v", out.Request.State, err)
	}
	if c, ok := out.Request.Decision.Check(bot.CheckEmergencyMFA); !ok || c.Outcome != bot.OutcomePass {
		t.Errorf("decision checks %+v", out.Request.Decision.Checks)
	}
	if data := w.auditData(t, out.Request.ID, bot.ActionRequestCreated); len(data) != 1 || !strings.Contains(data[0], `"mfa":{`) {
		t.Errorf("request.created does not carry the assertion: %v", data)
	}

	// Its after-the-fact review needs the reviewer's key too, over the verdict.
	if _, err := w.svc.ProcessQueue(ctx); err != nil {
		t.Fatal(err)
	}
	rev, err := w.svc.EmergencyReviews(ctx, true)
	if err != nil || len(rev) != 1 {
		r, _ := w.svc.Request(ctx, out.Request.ID)
		t.Fatalf("pending reviews %+v, %v (request %s: %s)", rev, err, r.State, r.StateReason)
	}
	carolKey := register(t, w.svc, carol, key("yubikey", 3))
	_, err = w.svc.ReviewEmergency(ctx, rev[0].RequestID, carol, bot.ReviewAcceptable, "fine")
	wantRefusal(t, err, bot.CodeMFARequired, "reviewing emergency changes to production")
	now = w.clock.Now()
	verdictSwapped := assertion{ch: fresh(bot.EmergencyReviewChallenge(rev[0], hash, bot.ReviewNotAcceptable, "fine"), now), by: carol, c: carolKey, count: 1}
	_, err = w.svc.ReviewEmergencyWithMFA(ctx, rev[0].RequestID, carol, bot.ReviewAcceptable, "fine", verdictSwapped.proof())
	wantRefusal(t, err, bot.CodeMFAInvalid, "made for something else")
	ok := assertion{ch: fresh(bot.EmergencyReviewChallenge(rev[0], hash, bot.ReviewAcceptable, "fine"), now), by: carol, c: carolKey, count: 2}
	if _, err := w.svc.ReviewEmergencyWithMFA(ctx, rev[0].RequestID, carol, bot.ReviewAcceptable, "fine", ok.proof()); err != nil {
		t.Fatalf("carol's review with her key: %v", err)
	}
	if data := w.auditData(t, rev[0].RequestID, bot.ActionEmergencyReviewed); len(data) != 1 || !strings.Contains(data[0], `"mfa":{`) {
		t.Errorf("emergency.reviewed does not carry the assertion: %v", data)
	}
}
