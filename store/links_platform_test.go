package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

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

// TestConcurrentLinkLookupsAnswerEachCaller: 200 concurrent lookups of
// linked and unlinked Slack users (grouped into shared queries on
// PostgreSQL) each get their own answer, and a link removed before a
// lookup starts is not found by it.
func TestConcurrentLinkLookupsAnswerEachCaller(t *testing.T) {
	storetest.Run(t, func(t *testing.T) {
		ctx := context.Background()
		s, _ := openTemp(t, Options{})
		chat := func(i int) bot.ChatIdentity {
			return bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: fmt.Sprintf("U%03d", i)}
		}
		for i := 0; i < 200; i += 2 { // even users are linked
			l := bot.Link{Chat: chat(i), GitHubLogin: fmt.Sprintf("user-%d", i), GitHubID: int64(1000 + i), LinkedAt: time.Unix(1700000000, 0)}
			if err := s.SaveLink(ctx, l, bot.AuditEvent{Actor: l.GitHubLogin, Action: bot.ActionIdentityLinked, Subject: l.Chat.User}); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 200)
		for i := range 200 {
			wg.Go(func() {
				l, err := s.LinkFor(ctx, chat(i))
				switch {
				case i%2 == 1 && !errors.Is(err, bot.ErrNotFound):
					errs[i] = fmt.Errorf("unlinked user %d: link %+v, error %v; want not found", i, l, err)
				case i%2 == 0 && (err != nil || l.GitHubLogin != fmt.Sprintf("user-%d", i) || l.GitHubID != int64(1000+i) || l.Chat != chat(i)):
					errs[i] = fmt.Errorf("linked user %d: link %+v, error %v", i, l, err)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if _, err := s.DeleteLinks(ctx, chat(0), 0, bot.AuditEvent{Actor: "user-0", Action: bot.ActionIdentityUnlinked, Subject: "U000"}); err != nil {
			t.Fatal(err)
		}
		if l, err := s.LinkFor(ctx, chat(0)); !errors.Is(err, bot.ErrNotFound) {
			t.Errorf("after unlinking: link %+v, error %v; want not found", l, err)
		}
		if s.dialect.postgres && s.linkLookups.queries.Load() >= 200 {
			t.Errorf("%d queries for 200 concurrent lookups: not grouped", s.linkLookups.queries.Load())
		}
	})
}
