package bot_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

func TestLockRemindersGoToTheOwnerOnSchedule(t *testing.T) {
	storetest.Run(t, testLockRemindersGoToTheOwnerOnSchedule)
}

func testLockRemindersGoToTheOwnerOnSchedule(t *testing.T) {
	ctx := context.Background()
	w := newComplianceWorld(t)
	if _, err := w.svc.LockEnvironment(ctx, "acme/shop", "production", alice, "db migration", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.LockEnvironment(ctx, "acme/shop", "staging", bob, "short test", 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	const after = 24 * time.Hour
	steps := []struct {
		name string
		at   time.Duration
		want string
	}{
		{"not yet", 23 * time.Hour, ""},
		{"after remind_after the owner hears; the expired lock is silent", 24 * time.Hour, "lock_reminder owner acme/shop production alice"},
		{"once per interval", 30 * time.Hour, ""},
		{"again one interval later", 48 * time.Hour, "lock_reminder owner acme/shop production alice"},
		{"a long outage sends one reminder, not a burst", 120 * time.Hour, "lock_reminder owner acme/shop production alice"},
		{"and the count caught up", 121 * time.Hour, ""},
	}
	for _, st := range steps {
		w.at(st.at)
		if _, err := w.svc.RemindLocks(ctx, after); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := lines(w.rec.take(bot.NotifyLockReminder)); got != st.want {
			t.Errorf("%s: got %q, want %q", st.name, got, st.want)
		}
	}
	data := w.auditData(t, "acme/shop production", bot.ActionLockReminded)
	if len(data) != 3 || !strings.Contains(data[2], `"reminder":5`) || !strings.Contains(data[0], `"owner":"alice"`) {
		t.Fatalf("lock.reminded entries: %v", data)
	}

	// A new lock starts its own schedule.
	if err := w.svc.UnlockEnvironment(ctx, "acme/shop", "production", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.LockEnvironment(ctx, "acme/shop", "production", carol, "incident", 0); err != nil {
		t.Fatal(err)
	}
	w.at(140 * time.Hour)
	if n, err := w.svc.RemindLocks(ctx, after); err != nil || n != 0 {
		t.Fatalf("new lock reminded after 19h: %d, %v", n, err)
	}
	w.at(145 * time.Hour)
	if _, err := w.svc.RemindLocks(ctx, after); err != nil {
		t.Fatal(err)
	}
	if got := lines(w.rec.take(bot.NotifyLockReminder)); got != "lock_reminder owner acme/shop production carol" {
		t.Fatalf("new lock: %q", got)
	}
	if _, err := w.svc.RemindLocks(ctx, 0); err == nil {
		t.Fatal("a zero interval was accepted")
	}
}
