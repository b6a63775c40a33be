package main

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/integrations/githubtest"
	"github.com/tollgate-dev/tollgate/store"
)

// deliverAndWait sends p signed like GitHub and waits until the inbox
// worker has handled it (state done), so a test can tell "nothing
// happened" from "not yet".
func (e *e2e) deliverAndWait(t *testing.T, p githubtest.Payload, buildErr error) {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	body, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	id := githubtest.NewDeliveryID()
	resp, err := e.gh.SendWebhookDelivery(context.Background(), e.url("/webhooks/github"), e2eSecret, p.Event, id, body)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("%s webhook answered %d", p.Event, resp.StatusCode)
	}
	waitFor(t, p.Event+" delivery "+id+" handled", func() bool {
		st, err := store.OpenReadOnly(context.Background(), e.dbPath)
		if err != nil {
			return false
		}
		defer st.Close()
		var state, lastErr string
		err = st.DB().QueryRow(`SELECT state, last_error FROM inbox WHERE delivery_id = ?`, id).Scan(&state, &lastErr)
		if errors.Is(err, sql.ErrNoRows) || err != nil {
			return false
		}
		if state == "failed" {
			t.Fatalf("delivery %s failed: %s", id, lastErr)
		}
		return state == "done"
	})
}

// TestServeMembershipWebhooksActOnlyOnLostRoles (issue 15 item 3):
// signed membership and organization webhooks through the real server.
// Leaving a team Tollgate does not use, a team of another organisation,
// or a Tollgate team one is (live) still in, writes nothing and keeps the
// Slack link; leaving the approvers team records the role lost and keeps
// the link (still in the organisation); leaving the organisation deletes
// the link. Fails before this change: every removal wrote access.revoked
// (into access_changes.csv) and deleted the person's Slack links.
func TestServeMembershipWebhooksActOnlyOnLostRoles(t *testing.T) {
	w := newSlackE2E(t)
	w.gh.SetTeamMember("acme", "approvers", "carol", "")
	w.gh.SetTeamMember("acme", "marketing", "carol", "")
	w.gh.SetTeamMember("globex", "approvers", "carol", "")
	w.start(t)
	w.link(t, slackCarol)
	ctx := context.Background()
	carolID := w.gh.UserID("carol")
	linked := func() bool {
		st := w.openDB(t)
		_, err := st.LinkFor(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: w.sl.TeamID(), User: slackCarol.slackID})
		if err != nil && !errors.Is(err, bot.ErrNotFound) {
			t.Fatal(err)
		}
		return err == nil
	}
	accessEntries := func() (revoked, unlinked []map[string]any) {
		st := w.openDB(t)
		return auditDataWhere(t, st, `action = ? AND subject = 'carol'`, bot.ActionAccessRevoked),
			auditDataWhere(t, st, `action = ? AND subject = 'carol'`, bot.ActionIdentityUnlinked)
	}

	nothing := []struct {
		name   string
		change func()
		event  func() (githubtest.Payload, error)
	}{
		{"a team Tollgate does not use", func() { w.gh.RemoveTeamMember("acme", "marketing", "carol") },
			func() (githubtest.Payload, error) {
				return w.gh.Payloads().MembershipRemoved("acme", "marketing", "carol", "admin")
			}},
		{"a team of the same name in another organisation", func() { w.gh.RemoveTeamMember("globex", "approvers", "carol") },
			func() (githubtest.Payload, error) {
				return w.gh.Payloads().MembershipRemoved("globex", "approvers", "carol", "admin")
			}},
		{"a Tollgate team she is back in (a stale event)", func() {},
			func() (githubtest.Payload, error) {
				return w.gh.Payloads().MembershipRemoved("acme", "approvers", "carol", "admin")
			}},
		{"another organisation", func() { w.gh.RemoveOrgMember("globex", "carol") },
			func() (githubtest.Payload, error) {
				return w.gh.Payloads().OrganizationMemberRemoved("globex", "carol", "admin")
			}},
	}
	for _, tc := range nothing {
		t.Run("leaving "+tc.name+" changes nothing", func(t *testing.T) {
			tc.change()
			p, err := tc.event()
			w.deliverAndWait(t, p, err)
			if revoked, unlinked := accessEntries(); len(revoked)+len(unlinked) != 0 {
				t.Errorf("access.revoked %v, identity.unlinked %v; want none", revoked, unlinked)
			}
			if !linked() {
				t.Error("carol's Slack link was deleted")
			}
		})
	}

	t.Run("leaving the approvers team records the role lost, keeps the link", func(t *testing.T) {
		w.gh.RemoveTeamMember("acme", "approvers", "carol")
		p, err := w.gh.Payloads().MembershipRemoved("acme", "approvers", "carol", "admin")
		w.deliverAndWait(t, p, err)
		revoked, unlinked := accessEntries()
		if len(revoked) != 1 || len(unlinked) != 0 {
			t.Fatalf("access.revoked %v, identity.unlinked %v; want one revocation, no unlink", revoked, unlinked)
		}
		lost, _ := revoked[0]["roles_lost"].([]any)
		if len(lost) != 1 || lost[0] != "carol: approve on acme/shop production (via acme/approvers)" ||
			revoked[0]["team"] != "acme/approvers" || revoked[0]["github_id"] != float64(carolID) {
			t.Errorf("access.revoked says %v", revoked[0])
		}
		if !linked() {
			t.Error("carol's Slack link was deleted though she is still in the organisation")
		}
	})

	t.Run("leaving the organisation deletes the link", func(t *testing.T) {
		w.gh.RemoveOrgMember("acme", "carol")
		p, err := w.gh.Payloads().OrganizationMemberRemoved("acme", "carol", "admin")
		w.deliverAndWait(t, p, err)
		revoked, unlinked := accessEntries()
		if len(revoked) != 2 || len(unlinked) != 1 || revoked[1]["left_org"] != "acme" || revoked[1]["slack_links_removed"] != float64(1) {
			t.Fatalf("access.revoked %v, identity.unlinked %v", revoked, unlinked)
		}
		if linked() {
			t.Error("carol left the organisation and is still linked")
		}
	})
	if code := w.stop(t); code != exitOK {
		t.Fatalf("serve exit %d\n%s", code, w.stderr)
	}
}
