package bot_test

import (
	"context"
	"slices"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestTeamRemovalRecordsOnlyRolesLost (issue 15 item 3): leaving a team
// costs a person only the roles no other team of theirs still gives, asked
// live; a team the configuration does not name, a team of another
// organisation, or one the person is back in costs nothing and writes
// nothing. Links stay for team removals.
func TestTeamRemovalRecordsOnlyRolesLost(t *testing.T) {
	storetest.Run(t, testTeamRemovalRecordsOnlyRolesLost)
}

func testTeamRemovalRecordsOnlyRolesLost(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	admins := bot.Team{Org: "acme", Slug: "admins"}
	prod := w.policies["acme/shop"]["production"]
	prod.Approvers = []bot.Team{approvers, admins} // dave approves production through admins too
	dir := &teamsDir{dir: w.dir, org: map[string]int64{"dave": 4, "alice": 1}}
	ar, err := w.svc.AccessReviews(bot.AccessReviewConfig{Org: "acme",
		Environments: []*bot.EnvironmentPolicy{prod, w.policies["acme/shop"]["staging"]}, Teams: dir, Members: dir})
	if err != nil {
		t.Fatal(err)
	}
	link := bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U4"}, GitHubLogin: "dave", GitHubID: 4}
	if err := w.svc.LinkIdentity(ctx, proved(link)); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct{ name, org, team string }{
		{"a team the configuration does not name", "acme", "marketing"},
		{"a Tollgate team's namesake in another organisation", "globex", "approvers"},
		{"a Tollgate team dave is still in (a stale event)", "acme", "approvers"},
	} {
		loss, err := ar.TeamMemberRemoved(ctx, dave, tc.org, tc.team, "test")
		if err != nil || loss.Audited || len(loss.Roles) != 0 {
			t.Errorf("%s: %+v, %v; want nothing", tc.name, loss, err)
		}
	}
	if got := w.auditData(t, "dave", bot.ActionAccessRevoked); len(got) != 0 {
		t.Fatalf("access.revoked without a role lost: %v", got)
	}

	w.dir.set("acme/approvers", "dave", false)
	loss, err := ar.TeamMemberRemoved(ctx, dave, "acme", "approvers", "membership removed webhook: acme/approvers")
	if err != nil {
		t.Fatal(err)
	}
	var lost []string
	for _, g := range loss.Roles {
		lost = append(lost, g.String())
	}
	if want := []string{"dave: approve on acme/shop staging (via acme/approvers)"}; !slices.Equal(lost, want) {
		t.Errorf("roles lost %v, want %v (production's approval stays through acme/admins)", lost, want)
	}
	if got := w.auditData(t, "dave", bot.ActionAccessRevoked); len(got) != 1 {
		t.Fatalf("access.revoked: %v", got)
	}
	if _, err := w.svc.IdentityFor(ctx, link.Chat); err != nil {
		t.Errorf("a team removal deleted dave's link: %v", err)
	}
}
