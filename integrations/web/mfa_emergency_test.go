package web

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/internal/mfaproof"
	"github.com/tollgate-dev/tollgate/internal/mfastate"
)

// emergencyLink mints the one-time link /deploy emergency hands login.
func (m *mfaHarness) emergencyLink(t *testing.T, login, sourceKey, reason string) string {
	t.Helper()
	data, _ := json.Marshal(mfastate.EmergencyAsk{SourceKey: sourceKey, Repo: testRepo, Environment: "production", Ref: "main", Reason: reason})
	key, now := newSecret(), m.clock.Now()
	if err := m.st.SaveMFAState(context.Background(), mfastate.State{Kind: mfastate.KindEmergencyLink, Key: key, Workspace: "T1",
		User: slackUserOf(login), Subject: sourceKey, Data: data, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}); err != nil {
		t.Fatal(err)
	}
	return m.public + PathMFAEmergency + "?t=" + key
}

// entryData returns the data of the one entry with action on subject.
func (m *mfaHarness) entryData(t *testing.T, action, subject string) []byte {
	t.Helper()
	var data []byte
	if err := m.st.DB().QueryRow(`SELECT data FROM audit_entries WHERE action = ? AND subject = ?`, action, subject).Scan(&data); err != nil {
		t.Fatalf("%s of %s: %v", action, subject, err)
	}
	return data
}

// TestMFAEmergencyChangeAndItsReview: with emergency.require_webauthn,
// the requester confirms the change on the page their link opens (only
// they: the link is bound to their Slack account's GitHub user), and an
// approver reviews it on the review page; each records an assertion that
// re-verifies offline. The deployer cannot review their own change.
func TestMFAEmergencyChangeAndItsReview(t *testing.T) {
	ctx := context.Background()
	m := newMFAHarness(t)
	alice, bob, carol := m.signIn(t, "alice"), m.signIn(t, "bob"), m.signIn(t, "carol")
	bobKey := m.registerKey(t, bob, "bob", "oncall-key")
	carolKey := m.registerKey(t, carol, "carol", "yubikey")

	if resp, page := alice.get(m.emergencyLink(t, "bob", "slack:trig-0", "site down")); resp.StatusCode != http.StatusForbidden ||
		!strings.Contains(page, "linked to GitHub user bob, and you are signed in as alice") {
		t.Fatalf("bob's emergency link opened by alice: %d\n%s", resp.StatusCode, page)
	}

	resp, page := bob.get(m.emergencyLink(t, "bob", "slack:trig-1", "site down INC-7"))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("emergency page: %d\n%s", resp.StatusCode, page)
	}
	mustContain(t, page, `id="sha">`+testSHA, `id="reason">site down INC-7<`, m.policy.Hash())
	var ps pageScript
	if err := json.Unmarshal([]byte(scriptDataOf(t, page)), &ps); err != nil {
		t.Fatal(err)
	}
	code, out := m.finish(t, bob, ps, m.public, map[string]any{
		"credential": json.RawMessage(bobKey.AssertionJSON(ps.challenge(t), "localhost", m.public, uv))})
	if code != http.StatusOK || !out.OK || !strings.Contains(out.Message, "is queued") {
		t.Fatalf("confirming the emergency change: %d %+v", code, out)
	}
	id := strings.TrimPrefix(out.Next, PathDeployments)
	r, err := m.st.Request(ctx, id)
	if err != nil || r.Trigger != bot.TriggerEmergency || r.Requester.Login != "bob" || r.Requester.ChatUser != "T1/UBOB" {
		t.Fatalf("request %s: %+v, %v", id, r, err)
	}
	if carried, err := mfaproof.CheckEntry(nil, bot.ActionRequestCreated, id, time.Time{}, m.entryData(t, bot.ActionRequestCreated, id)); !carried || err != nil {
		t.Errorf("request.created's assertion: carried %v, %v", carried, err)
	}

	// The change went out; its review is pending.
	now := m.clock.Now()
	rev := bot.EmergencyReview{RequestID: id, Repo: testRepo, Environment: "production", SHA: testSHA, Deployer: r.Requester,
		Reason: r.Reason, DeployedAt: now, OpenedAt: now, DueAt: now.Add(24 * time.Hour)}
	if _, err := m.st.OpenEmergencyReview(ctx, rev, bot.AuditEvent{Actor: "tollgate", Action: bot.ActionEmergencyReviewOpened, Subject: id}); err != nil {
		t.Fatal(err)
	}
	link := m.public + PathMFAReview + id + "?t=" + r.MFALinkToken(bot.MFAEmergencyReview)
	review := func(b *browser, key interface {
		AssertionJSON([]byte, string, string, byte) []byte
	}) (int, outcome) {
		t.Helper()
		if resp, page := b.get(link); resp.StatusCode != http.StatusOK || !strings.Contains(page, `name="outcome"`) {
			t.Fatalf("review form: %d\n%s", resp.StatusCode, page)
		}
		form := url.Values{"outcome": {"acceptable"}, "note": {"the rollback plan was sound"}}
		resp, err := b.c.PostForm(link, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		var ps pageScript
		if err := json.Unmarshal([]byte(scriptDataOf(t, string(page))), &ps); err != nil {
			t.Fatal(err)
		}
		return m.finish(t, b, ps, m.public, map[string]any{
			"credential": json.RawMessage(key.AssertionJSON(ps.challenge(t), "localhost", m.public, uv))})
	}
	if code, out := review(bob, bobKey); code != http.StatusForbidden || !strings.Contains(out.Message, "another approver must review it") {
		t.Fatalf("the deployer reviewing: %d %+v", code, out)
	}
	if code, out := review(carol, carolKey); code != http.StatusOK || !strings.Contains(out.Message, "is recorded: acceptable") {
		t.Fatalf("carol's review: %d %+v", code, out)
	}
	if carried, err := mfaproof.CheckEntry(nil, bot.ActionEmergencyReviewed, id, time.Time{}, m.entryData(t, bot.ActionEmergencyReviewed, id)); !carried || err != nil {
		t.Errorf("emergency.reviewed's assertion: carried %v, %v", carried, err)
	}
}
