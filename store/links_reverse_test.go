package store

import (
	"context"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestLinksForGitHub(t *testing.T) { storetest.Run(t, testLinksForGitHub) }

func testLinksForGitHub(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	for _, l := range []bot.Link{
		{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"}, GitHubLogin: "Alice", GitHubID: 1},
		{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U2"}, GitHubLogin: "bob", GitHubID: 2},
		{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T2", User: "U9"}, GitHubLogin: "bob", GitHubID: 2},
		{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U3"}, GitHubLogin: "carol-renamed", GitHubID: 3},
	} {
		l.LinkedAt = reqT0
		if err := s.SaveLink(ctx, l, event("identity.linked", l.Chat.User)[0]); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		who  []bot.Identity
		want string
	}{
		{"logins match case-insensitively", []bot.Identity{{Login: "alice"}}, "T1/U1"},
		{"one person linked in two workspaces", []bot.Identity{{Login: "BOB"}}, "T1/U2 T2/U9"},
		{"the numeric id wins over a stale login", []bot.Identity{{Login: "carol", GitHubID: 3}}, "T1/U3"},
		{"a stale login alone finds nobody", []bot.Identity{{Login: "carol"}}, ""},
		{"unlinked people are left out", []bot.Identity{{Login: "erin"}, {Login: "alice"}}, "T1/U1"},
		{"nobody asked", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ls, err := s.LinksForGitHub(ctx, tt.who)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range ls {
				got = append(got, l.Chat.String())
			}
			if strings.Join(got, " ") != tt.want {
				t.Errorf("links = %q, want %q", strings.Join(got, " "), tt.want)
			}
		})
	}
}
