package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// The identity_links table keeps Slack accounts only: a link of another
// chat platform is refused rather than stored under Slack's columns, where
// it could be mistaken for a Slack account with the same ids.
func TestLinksOfAnotherChatPlatformAreRefused(t *testing.T) {
	storetest.Run(t, testLinksOfAnotherChatPlatformAreRefused)
}

func testLinksOfAnotherChatPlatformAreRefused(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	other := bot.ChatIdentity{Platform: "matrix", Workspace: "T1", User: "U1"}
	err := s.SaveLink(ctx, bot.Link{Chat: other, GitHubLogin: "alice", GitHubID: 1, LinkedAt: reqT0}, event("identity.linked", "U1")[0])
	if err == nil || !strings.Contains(err.Error(), `"matrix"`) {
		t.Fatalf("saving a matrix link: %v, want a refusal naming the platform", err)
	}
	slack := bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"}
	if err := s.SaveLink(ctx, bot.Link{Chat: slack, GitHubLogin: "alice", GitHubID: 1, LinkedAt: reqT0}, event("identity.linked", "U1")[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LinkFor(ctx, other); !errors.Is(err, bot.ErrNotFound) {
		t.Errorf("the Slack account's link answered for the matrix account with the same ids: %v", err)
	}
	l, err := s.LinkFor(ctx, slack)
	if err != nil || l.Chat != slack || l.Identity().ChatUser != "T1/U1" {
		t.Errorf("LinkFor(slack) = %+v, %v", l, err)
	}
}
