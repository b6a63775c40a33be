package main

import (
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
)

const accessReviewRepos = `  acme/shop:
    environments:
      production:
        deployers: [deployers]
        approvers: [approvers]
        required_approvals: 1
        emergency:
          teams: [oncall]
        servers:
          - host: prod.example.com
            user: deploy
        ssh:
          private_key_file: app.pem
          known_hosts_file: known_hosts
        path: /srv/shop
`

func accessReviewFixture(t *testing.T) *complianceFixture {
	t.Helper()
	f := newComplianceFixture(t, 3, 0)
	writeFile(t, f.dir+"/known_hosts", nil, 0o644)
	f.writeConfig(t, "teams:\n  admins: [admins]\n  access_reviewers: [security]", accessReviewRepos)
	for _, m := range []struct{ team, login string }{
		{"deployers", "alice"}, {"deployers", "bob"}, {"approvers", "carol"}, {"approvers", "bob"},
		{"oncall", "erin"}, {"admins", "dave"}, {"security", "frank"},
	} {
		f.gh.SetTeamMember("acme", m.team, m.login, "")
	}
	return f
}

func TestAccessReviewCommand(t *testing.T) {
	f := accessReviewFixture(t)
	code, out, errOut := runCLI(t, "access-review", "--config", f.config, "--dry-run")
	if code != exitOK || !strings.Contains(out, "(dry run: nothing recorded)") {
		t.Fatalf("dry run: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut = runCLI(t, "access-review", "--config", f.config, "--by", "frank")
	if code != exitOK {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"acme/shop production\n",
		"  deploy:          alice (acme/deployers), bob (acme/deployers)\n",
		"  approve:         bob (acme/approvers), carol (acme/approvers)\n",
		"  emergency:       erin (acme/oncall)\n",
		"tollgate-wide\n  access_reviewer: frank (acme/security)\n",
		"changes: first review, every grant is new\n",
		"sign-off: a member of [security] signs ar-",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	f.gh.RemoveTeamMember("acme", "approvers", "bob")
	f.gh.SetTeamMember("acme", "oncall", "gina", "")
	code, out, errOut = runCLI(t, "access-review", "--config", f.config)
	if code != exitOK {
		t.Fatalf("second review: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		": 1 added, 1 removed\n",
		"  + gina: emergency on acme/shop production (via acme/oncall)\n",
		"  - bob: approve on acme/shop production (via acme/approvers)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("second review lacks %q:\n%s", want, out)
		}
	}

	st, err := store.OpenReadOnly(testCtx(t), f.log.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n int
	if err := st.DB().QueryRow(`SELECT count(*) FROM audit_entries WHERE action = ?`, bot.ActionAccessReviewSnapshot).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d snapshots audited (%v), want 2: the dry run records nothing", n, err)
	}
}

func TestAccessReviewReconcile(t *testing.T) {
	f := accessReviewFixture(t)
	ctx := testCtx(t)
	st, err := store.Open(ctx, f.log.Path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []bot.Link{
		{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"}, GitHubLogin: "alice", GitHubID: f.gh.UserID("alice")},
		{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U2"}, GitHubLogin: "bob", GitHubID: f.gh.UserID("bob")},
	} {
		if err := st.SaveLink(ctx, l, bot.AuditEvent{Actor: l.GitHubLogin, Action: bot.ActionIdentityLinked, Subject: l.Chat.User}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	if code, out, errOut := runCLI(t, "access-review", "--config", f.config, "--reconcile"); code != exitOK || !strings.Contains(out, "0 revoked") {
		t.Fatalf("nobody left: exit %d\n%s%s", code, out, errOut)
	}
	f.gh.RemoveOrgMember("acme", "bob")
	code, out, errOut := runCLI(t, "access-review", "--config", f.config, "--reconcile")
	if code != exitOK || !strings.Contains(out, "revoked bob: left the organisation") || !strings.Contains(out, "1 revoked") {
		t.Fatalf("bob left: exit %d\n%s%s", code, out, errOut)
	}
	st, err = store.OpenReadOnly(ctx, f.log.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.LinkFor(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U2"}); err == nil {
		t.Error("bob's link survived the reconciliation")
	}
	var data string
	if err := st.DB().QueryRow(`SELECT data FROM audit_entries WHERE action = ? AND subject = 'bob'`, bot.ActionAccessReconciled).Scan(&data); err != nil ||
		!strings.Contains(data, `"latency_basis":"last_seen_member_at"`) {
		t.Fatalf("access.reconciled: %s %v", data, err)
	}
}
