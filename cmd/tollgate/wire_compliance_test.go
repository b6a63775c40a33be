package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store"
)

const serveAnchorRepo = "acme/audit-anchors"

// TestServeAnchorsAndReconciles serves with an anchor repository: the
// start reconciles the organisation's members (a departed member's link
// is revoked, audited; a member's stays), and the stop anchors the
// shutdown checkpoint in the repository, which verify --anchors accepts.
func TestServeAnchorsAndReconciles(t *testing.T) {
	ctx := context.Background()
	e := newE2E(t, e2eOptions{})
	e.gh.AddRepo(serveAnchorRepo)
	e.gh.AddUser("mallory") // linked once, no longer in the organisation
	cfg := readTestFile(t, e.configPath)
	writeTestFile(t, e.configPath, strings.Replace(cfg, "  checkpoint_every: 4\n",
		"  checkpoint_every: 4\n  anchor_repository: "+serveAnchorRepo+"\n", 1))

	st, err := store.Open(ctx, e.dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []bot.Link{
		{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T0ACME", User: "U0ALICE"}, GitHubLogin: "alice", GitHubID: e.gh.UserID("alice")},
		{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T0ACME", User: "U0MALLORY"}, GitHubLogin: "mallory", GitHubID: e.gh.UserID("mallory")},
	} {
		if err := st.SaveLink(ctx, l, bot.AuditEvent{Actor: l.GitHubLogin, Action: "identity.linked", Subject: l.Chat.User}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	e.start(t)
	db := e.openDB(t)
	linked := func(login string) bool {
		var n int
		if err := db.DB().QueryRow(`SELECT count(*) FROM identity_links WHERE github_login = ?`, login).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	// The revocation and its access.reconciled entry are two transactions:
	// wait for both, or a read between them finds no entry yet.
	waitFor(t, "the departed member's link to be revoked and the revocation audited", func() bool {
		return !linked("mallory") && len(auditData(t, db, bot.ActionAccessReconciled)) > 0
	})
	if !linked("alice") {
		t.Errorf("alice, still a member, lost her link")
	}
	reconciled := auditData(t, db, bot.ActionAccessReconciled)
	if len(reconciled) != 1 || reconciled[0]["login"] != "mallory" || reconciled[0]["org"] != "acme" {
		t.Fatalf("access.reconciled entries: %v, want one for mallory in acme", reconciled)
	}
	if _, metrics := e.get(t, "/metrics"); !strings.Contains(metrics, "tollgate_emergency_reviews_overdue 0") {
		t.Errorf("metrics lack the overdue emergency reviews gauge")
	}

	if code := e.stop(t); code != exitOK {
		t.Fatalf("exit %d\n%s", code, e.stderr.String())
	}
	files := e.gh.Files(serveAnchorRepo, "main")
	if len(files) != 1 || !strings.HasSuffix(files[0], ".txt") {
		t.Fatalf("anchor repository holds %v, want one file for today", files)
	}
	body, _ := e.gh.File(serveAnchorRepo, "main", files[0])
	cp, ok, err := e.openDB(t).Audit().LatestCheckpoint(ctx)
	if err != nil || !ok {
		t.Fatalf("no checkpoint after the stop: %v", err)
	}
	if !bytes.Contains(body, cp.Note) {
		t.Errorf("the anchor file does not hold the shutdown checkpoint (tree size %d):\n%s", cp.Size, body)
	}
	if published := auditData(t, e.openDB(t), bot.ActionAnchorPublished); len(published) == 0 ||
		published[len(published)-1]["repository"] != serveAnchorRepo {
		t.Errorf("anchor.published entries: %v", published)
	}

	var out, errOut bytes.Buffer
	if code := runVerify(ctx, []string{"--config", e.configPath, "--anchors"}, &out, &errOut); code != exitOK {
		t.Fatalf("verify --anchors exit %d:\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), "OK (anchors)") {
		t.Errorf("verify --anchors said:\n%s", out.String())
	}
}
