package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

var (
	reviewersTeam = bot.Team{Org: "acme", Slug: "security"}
	adminsTeam    = bot.Team{Org: "acme", Slug: "admins"}
)

func newAccessReviews(t *testing.T, w *complianceWorld) (*bot.AccessReviews, *teamsDir) {
	t.Helper()
	w.dir.set("acme/security", "frank", true)
	td := &teamsDir{dir: w.dir, org: map[string]int64{"alice": 1, "bob": 2, "carol": 3, "dave": 4, "erin": 5, "frank": 6, "mallory": 66}}
	var envs []*bot.EnvironmentPolicy
	for _, byEnv := range w.policies {
		for _, p := range byEnv {
			envs = append(envs, p)
		}
	}
	ar, err := w.svc.AccessReviews(bot.AccessReviewConfig{Org: "acme", Environments: envs, Admins: []bot.Team{adminsTeam},
		Reviewers: []bot.Team{reviewersTeam}, Interval: 90 * 24 * time.Hour, Teams: td, Members: td})
	if err != nil {
		t.Fatal(err)
	}
	return ar, td
}

func grantLines(gs []bot.AccessGrant) string {
	var out []string
	for _, g := range gs {
		out = append(out, g.String())
	}
	return strings.Join(out, "\n")
}

func TestAccessReviewSnapshotDiffAndSignOff(t *testing.T) {
	storetest.Run(t, testAccessReviewSnapshotDiffAndSignOff)
}

func testAccessReviewSnapshotDiffAndSignOff(t *testing.T) {
	ctx := context.Background()
	w := newComplianceWorld(t)
	ar, _ := newAccessReviews(t, w)

	first, err := ar.Snapshot(ctx, "frank")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"erin: emergency on acme/shop production (via acme/oncall)",
		"alice: deploy on acme/shop staging (via acme/deployers)",
		"carol: approve on acme/shop production (via acme/approvers)",
		"dave: admin (via acme/admins)",
		"frank: access_reviewer (via acme/security)",
	} {
		if !strings.Contains(grantLines(first.Grants), want) {
			t.Errorf("snapshot lacks %q:\n%s", want, grantLines(first.Grants))
		}
	}
	if len(first.Added) != len(first.Grants) || len(first.Removed) != 0 || first.PreviousID != "" {
		t.Fatalf("first snapshot diff: +%d -%d prev %q", len(first.Added), len(first.Removed), first.PreviousID)
	}
	if got := lines(w.rec.take(bot.NotifyAccessReviewRecorded)); got != "access_review_recorded access_reviewers "+first.ID {
		t.Fatalf("notifications: %q", got)
	}

	refusals := []struct {
		name    string
		by      bot.Identity
		outcome bot.AccessReviewOutcome
		note    string
		code    bot.RefusalCode
	}{
		{"only access reviewers sign off", dave, bot.AccessNoChanges, "", bot.CodeNotAccessReviewer},
		{"changes needed needs a note", bot.Identity{Login: "frank", GitHubID: 6}, bot.AccessChangesNeeded, "", bot.CodeNoteMissing},
	}
	for _, rf := range refusals {
		_, err := ar.SignOff(ctx, first.ID, rf.by, rf.outcome, rf.note)
		if ref, ok := bot.AsRefusal(err); !ok || ref.Code != rf.code {
			t.Errorf("%s: got %v, want %s", rf.name, err, rf.code)
		}
	}
	frank := bot.Identity{Login: "frank", GitHubID: 6}
	signed, err := ar.SignOff(ctx, first.ID, frank, bot.AccessChangesNeeded, "bob should not approve production")
	if err != nil {
		t.Fatal(err)
	}
	if !signed.Signed() || !signed.SignedOffAt.Equal(t0) {
		t.Fatalf("signed off as %+v", signed)
	}
	if _, err := ar.SignOff(ctx, first.ID, frank, bot.AccessNoChanges, ""); err == nil {
		t.Fatal("signed off twice")
	}

	// Bob leaves the approvers, gina joins the on-call team.
	w.dir.set("acme/approvers", "bob", false)
	w.dir.set("acme/oncall", "gina", true)
	w.at(time.Hour)
	second, err := ar.Snapshot(ctx, "frank")
	if err != nil {
		t.Fatal(err)
	}
	if second.PreviousID != first.ID {
		t.Fatalf("compared with %q, want %q", second.PreviousID, first.ID)
	}
	if got, want := grantLines(second.Added), "gina: emergency on acme/shop production (via acme/oncall)"; got != want {
		t.Errorf("added:\n%s\nwant\n%s", got, want)
	}
	wantRemoved := "bob: approve on acme/shop production (via acme/approvers)\nbob: approve on acme/shop staging (via acme/approvers)"
	if got := grantLines(second.Removed); got != wantRemoved {
		t.Errorf("removed:\n%s\nwant\n%s", got, wantRemoved)
	}
	if second.Digest == first.Digest {
		t.Error("digest did not change with the grants")
	}
	want := []string{
		"access_review.snapshot frank " + first.ID,
		"access_review.signed_off frank " + first.ID,
		"access_review.snapshot frank " + second.ID,
	}
	if got := w.auditOf(t, bot.ActionAccessReviewSnapshot, bot.ActionAccessReviewSignedOff); lines(got) != lines(want) {
		t.Fatalf("audit:\n%s\nwant\n%s", lines(got), lines(want))
	}
}

func TestAccessReviewReminder(t *testing.T) { storetest.Run(t, testAccessReviewReminder) }

func testAccessReviewReminder(t *testing.T) {
	ctx := context.Background()
	w := newComplianceWorld(t)
	ar, _ := newAccessReviews(t, w)
	frank := bot.Identity{Login: "frank", GitHubID: 6}

	steps := []struct {
		name string
		do   func()
		at   time.Duration
		want bool
	}{
		{"never reviewed: due", nil, 0, true},
		{"reminded at most daily", nil, time.Hour, false},
		{"a day later again", nil, 25 * time.Hour, true},
		{"signed off: not due", func() {
			r, err := ar.Snapshot(ctx, "frank")
			if err == nil {
				_, err = ar.SignOff(ctx, r.ID, frank, bot.AccessNoChanges, "")
			}
			if err != nil {
				t.Fatal(err)
			}
		}, 26 * time.Hour, false},
		{"89 days later: not due", nil, 26*time.Hour + 89*24*time.Hour, false},
		{"90 days later: due", nil, 26*time.Hour + 90*24*time.Hour, true},
	}
	for _, st := range steps {
		w.at(st.at)
		if st.do != nil {
			st.do()
		}
		got, err := ar.RemindIfDue(ctx)
		if err != nil || got != st.want {
			t.Errorf("%s: reminded = %v, %v; want %v", st.name, got, err, st.want)
		}
	}
	if got := w.auditOf(t, bot.ActionAccessReviewReminded); len(got) != 3 {
		t.Fatalf("reminders audited: %v", got)
	}
}

func TestReconcileRevokesPeopleWhoLeftTheOrg(t *testing.T) {
	storetest.Run(t, testReconcileRevokesPeopleWhoLeftTheOrg)
}

func testReconcileRevokesPeopleWhoLeftTheOrg(t *testing.T) {
	ctx := context.Background()
	w := newComplianceWorld(t)
	ar, td := newAccessReviews(t, w)
	for _, l := range []bot.Link{
		{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"}, GitHubLogin: "alice", GitHubID: 1},
		{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U2"}, GitHubLogin: "bob", GitHubID: 2},
	} {
		if err := w.svc.LinkIdentity(ctx, proved(l)); err != nil {
			t.Fatal(err)
		}
	}
	pending := w.submit(t, "p1", bot.NewRequest{Requester: carol}).Request
	if pending.State != bot.StateAwaitingApproval {
		t.Fatalf("request is %s", pending.State)
	}

	res, err := ar.Reconcile(ctx)
	if err != nil || len(res.Revoked) != 0 || res.Members != 7 {
		t.Fatalf("first reconciliation = %+v, %v", res, err)
	}

	// Bob and carol leave; the webhooks are lost.
	w.at(20 * time.Hour)
	td.leave("bob")
	td.leave("carol")
	w.at(24 * time.Hour)
	td.failOrg = true
	if _, err := ar.Reconcile(ctx); err == nil || !strings.Contains(err.Error(), "refusing to revoke everyone") {
		t.Fatalf("empty member list: %v", err)
	}
	td.failOrg = false
	res, err = ar.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var revoked []string
	for _, who := range res.Revoked {
		revoked = append(revoked, who.Login)
	}
	if got := strings.Join(revoked, " "); got != "bob carol" {
		t.Fatalf("revoked %q, want bob carol", got)
	}
	if _, err := w.store.LinkFor(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U2"}); err == nil {
		t.Error("bob's Slack link survived")
	}
	if _, err := w.store.LinkFor(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"}); err != nil {
		t.Errorf("alice's link was removed: %v", err)
	}
	if r, _ := w.svc.Request(ctx, pending.ID); r.State != bot.StateCanceled {
		t.Errorf("carol's pending request is %s, want canceled", r.State)
	}
	data := w.auditData(t, "bob", bot.ActionAccessReconciled)
	if len(data) != 1 || !strings.Contains(data[0], `"latency_seconds":86400`) ||
		!strings.Contains(data[0], `"latency_basis":"last_seen_member_at"`) {
		t.Fatalf("access.reconciled for bob: %v", data)
	}
	if got := w.auditActions(t, "bob"); !strings.Contains(strings.Join(got, " "), "access.revoked") {
		t.Fatalf("bob's audit: %v", got)
	}
	if res, _ := ar.Reconcile(ctx); len(res.Revoked) != 0 {
		t.Fatalf("second reconciliation revoked again: %+v", res.Revoked)
	}
}

// TestSigningOffAnOldSnapshotKeepsItsAge (issue 15, access review
// suspicion): a snapshot taken 100 days ago and signed off today is 100
// days old: the review stays due. The due clock counts from when the
// snapshot was taken, not from its sign-off. Fails before this change:
// the sign-off reset the clock, so an old list of who could deploy passed
// for a fresh review.
func TestSigningOffAnOldSnapshotKeepsItsAge(t *testing.T) {
	storetest.Run(t, testSigningOffAnOldSnapshotKeepsItsAge)
}

func testSigningOffAnOldSnapshotKeepsItsAge(t *testing.T) {
	ctx := context.Background()
	w := newComplianceWorld(t)
	ar, _ := newAccessReviews(t, w)
	frank := bot.Identity{Login: "frank", GitHubID: 6}
	old, err := ar.Snapshot(ctx, "frank")
	if err != nil {
		t.Fatal(err)
	}
	w.at(100 * 24 * time.Hour)
	if _, err := ar.SignOff(ctx, old.ID, frank, bot.AccessNoChanges, ""); err != nil {
		t.Fatal(err)
	}
	due, last, err := ar.Due(ctx)
	if err != nil || !due || last == nil || last.ID != old.ID {
		t.Fatalf("after signing off a 100-day-old snapshot: due %v (last %+v), %v; want due", due, last, err)
	}
	fresh, err := ar.Snapshot(ctx, "frank")
	if err == nil {
		_, err = ar.SignOff(ctx, fresh.ID, frank, bot.AccessNoChanges, "")
	}
	if err != nil {
		t.Fatal(err)
	}
	if due, _, err := ar.Due(ctx); err != nil || due {
		t.Fatalf("after signing off a fresh snapshot: due %v, %v", due, err)
	}
}
