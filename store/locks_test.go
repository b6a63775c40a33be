package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestLocks(t *testing.T) { storetest.Run(t, testLocks) }

func testLocks(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	bob := bot.Identity{Login: "bob", GitHubID: 2}
	l := bot.Lock{Repo: "acme/shop", Environment: "production", Owner: bob, Reason: "migration",
		CreatedAt: reqT0, ExpiresAt: reqT0.Add(time.Hour)}
	if got, err := s.Lock(ctx, "acme/shop", "production"); err != nil || got != nil {
		t.Fatalf("no lock yet: %+v, %v", got, err)
	}
	if _, ok, err := s.AcquireLock(ctx, l, reqT0, event("lock.acquired", "acme/shop production")[0]); err != nil || !ok {
		t.Fatalf("acquire: %v %v", ok, err)
	}
	other := l
	other.Owner = bot.Identity{Login: "alice", GitHubID: 1}
	holder, ok, err := s.AcquireLock(ctx, other, reqT0.Add(time.Minute), event("lock.acquired", "x")[0])
	if err != nil || ok || holder.Owner.Login != "bob" || holder.Reason != "migration" {
		t.Fatalf("second acquire: %+v %v %v", holder, ok, err)
	}
	// After expiry the lock can be taken over.
	if _, ok, err := s.AcquireLock(ctx, other, reqT0.Add(2*time.Hour), event("lock.acquired", "x")[0]); err != nil || !ok {
		t.Fatalf("acquire after expiry: %v %v", ok, err)
	}
	if err := s.ReleaseLock(ctx, "acme/shop", "production", event("lock.released", "x")[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseLock(ctx, "acme/shop", "production", event("lock.released", "x")[0]); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("release twice: %v", err)
	}
	if n, _ := s.Audit().Size(ctx); n != 3 {
		t.Fatalf("audit has %d entries, want 3 (two acquisitions, one release)", n)
	}
}

func TestLinks(t *testing.T) { storetest.Run(t, testLinks) }

func testLinks(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t, Options{})
	ev := event("identity.linked", "T1/U1")[0]
	if err := s.SaveLink(ctx, bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"}, GitHubLogin: "alice", GitHubID: 1, LinkedAt: reqT0}, ev); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveLink(ctx, bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T2", User: "U9"}, GitHubLogin: "alice", GitHubID: 1, LinkedAt: reqT0}, ev); err != nil {
		t.Fatal(err)
	}
	// A renamed login keeps its link: the id is what counts.
	if err := s.SaveLink(ctx, bot.Link{Chat: bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"}, GitHubLogin: "alice-renamed", GitHubID: 1, LinkedAt: reqT0}, ev); err != nil {
		t.Fatal(err)
	}
	l, err := s.LinkFor(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"})
	if err != nil || l.GitHubLogin != "alice-renamed" || !l.LinkedAt.Equal(reqT0) {
		t.Fatalf("link: %+v, %v", l, err)
	}
	removed, err := s.DeleteLinks(ctx, bot.ChatIdentity{}, 1, event("identity.unlinked", "alice")[0])
	if err != nil || len(removed) != 2 {
		t.Fatalf("delete by GitHub id: %d removed, %v", len(removed), err)
	}
	if _, err := s.LinkFor(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T2", User: "U9"}); !errors.Is(err, bot.ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if removed, err := s.DeleteLinks(ctx, bot.ChatIdentity{Platform: bot.PlatformSlack, Workspace: "T1", User: "U1"}, 0, event("identity.unlinked", "x")[0]); err != nil || len(removed) != 0 {
		t.Fatalf("delete missing: %v %v", removed, err)
	}
}
