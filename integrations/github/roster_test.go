package github

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/integrations/githubtest"
)

func TestRosterListsTeamAndOrgMembers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	gh := githubtest.New()
	defer gh.Close()
	gh.AddInstallation("acme")
	gh.SetTeamMember("acme", "deployers", "carol", "")
	gh.SetTeamMember("acme", "deployers", "alice", "maintainer")
	gh.AddOrgMember("acme", "bob", "member")
	gh.AddTeam("acme", "empty")
	app, err := NewApp(ctx, AppConfig{APIURL: gh.APIURL(), AppID: gh.AppID(), PrivateKey: gh.AppPrivateKeyPEM(),
		Retry: RetryPolicy{Sleep: func(context.Context, time.Duration) error { return nil }}})
	if err != nil {
		t.Fatal(err)
	}
	r := NewRoster(app)
	cases := []struct {
		name, team, want, wantErr string
	}{
		{name: "members sorted", team: "deployers", want: "alice carol"},
		{name: "empty team", team: "empty", want: ""},
		{name: "unknown team is an error", team: "nope", wantErr: "members of acme/nope"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := r.TeamMembers(ctx, "acme", tc.team)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || strings.Join(got, " ") != tc.want {
				t.Fatalf("got %v, %v; want %q", got, err, tc.want)
			}
		})
	}
	ms, err := r.OrgMembers(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var logins []string
	for _, m := range ms {
		if m.GitHubID == 0 {
			t.Errorf("%s has no id", m.Login)
		}
		logins = append(logins, m.Login)
	}
	if got := strings.Join(logins, " "); got != "alice bob carol" {
		t.Fatalf("org members %q", got)
	}
}
