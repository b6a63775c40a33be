package store

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// TestWakeUps: on PostgreSQL a replica hears, through LISTEN, a request
// queued, a deploy ended and deliveries stored by another, once they
// commit; a Tollgate in another schema of the same server is not woken.
func TestWakeUps(t *testing.T) {
	storetest.RunOn(t, storetest.Postgres, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		writer, path := openTemp(t, Options{})
		listener, err := Open(ctx, path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer listener.Close()
		other, _ := openTemp(t, Options{}) // another schema
		heard := make(chan string, 16)
		go listener.Listen(ctx, func(topic string) { heard <- topic }, func(err error) { t.Log(err) })
		expect := func(want string) {
			t.Helper()
			select {
			case got := <-heard:
				if got != want {
					t.Fatalf("heard %q, want %q", got, want)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("heard nothing, want %q", want)
			}
		}
		// Listen connects asynchronously: send until the first is heard.
		deadline := time.Now().Add(10 * time.Second)
		for i := 0; ; i++ {
			if _, err := writer.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: "warm-" + itoa(i), EventType: "push"}); err != nil {
				t.Fatal(err)
			}
			select {
			case got := <-heard:
				if got != WakeInbox {
					t.Fatalf("heard %q, want inbox", got)
				}
			case <-time.After(100 * time.Millisecond):
				if time.Now().Before(deadline) {
					continue
				}
				t.Fatal("Listen heard nothing within 10 s")
			}
			break
		}
		for len(heard) > 0 {
			<-heard
		}
		// The group commit wakes them too (after its callers are released).
		if _, err := writer.InboxBatcher().Enqueue(ctx, InboxItem{Source: "github", DeliveryID: "batched", EventType: "push"}); err != nil {
			t.Fatal(err)
		}
		expect(WakeInbox)
		if _, _, err := other.CreateRequest(ctx, sampleRequest("r-other1", "o1", "production", bot.StateQueued), nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := writer.CreateRequest(ctx, sampleRequest("r-aaaaaa", "k1", "production", bot.StateQueued), nil); err != nil {
			t.Fatal(err)
		}
		expect(WakeDeploy)
		if _, err := writer.UpdateRequest(ctx, "r-aaaaaa", func(cur *bot.Request) ([]bot.AuditEvent, error) {
			cur.State = bot.StateRunning
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := writer.UpdateRequest(ctx, "r-aaaaaa", func(cur *bot.Request) ([]bot.AuditEvent, error) {
			cur.State = bot.StateSucceeded
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		expect(WakeDeploy) // the deploy ended: its environment is free
		// A transaction that rolls back wakes nobody: its work is not there.
		errRolledBack := errors.New("rolled back")
		if err := writer.WithTx(ctx, func(tx *sql.Tx) error {
			if err := writer.wake(ctx, tx, WakeInbox); err != nil {
				return err
			}
			return errRolledBack
		}); !errors.Is(err, errRolledBack) {
			t.Fatal(err)
		}
		if n := len(writer.pendingWakes); n != 0 {
			t.Errorf("%d transactions' wake-ups kept after they ended", n)
		}
		select {
		case got := <-heard:
			t.Fatalf("heard %q more (starting a deploy, a rolled back transaction, or the other schema's request wakes nobody)", got)
		case <-time.After(300 * time.Millisecond):
		}
	})
}
