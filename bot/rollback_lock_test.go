package bot_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// Which rollbacks lock the environment (docs/lifecycle.md): an automatic
// one (health check failed, previous release restored) does not, since the
// bad release never went live and the next merge is typically the fix; an
// explicit `/deploy rollback` that restored the previous release does, so
// the next merge does not redeploy the change just rolled back.
func TestWhichRollbacksLockTheEnvironment(t *testing.T) {
	storetest.Run(t, testWhichRollbacksLockTheEnvironment)
}

func testWhichRollbacksLockTheEnvironment(t *testing.T) {
	const (
		shaBad = "4444444444444444444444444444444444444444"
		shaFix = "5555555555555555555555555555555555555555"
	)
	tests := []struct {
		name string
		// rollBack returns the request that rolled back the bad release.
		rollBack  func(t *testing.T, w *world, bad bot.Request) bot.Request
		wantState bot.State
		wantLock  bool
	}{
		{
			name: "automatic rollback after a failed health check",
			rollBack: func(t *testing.T, w *world, bad bot.Request) bot.Request {
				r, err := w.svc.Request(context.Background(), bad.ID)
				if err != nil {
					t.Fatal(err)
				}
				return r
			},
			wantState: bot.StateRolledBack,
		},
		{
			name: "explicit rollback that restored the previous release",
			rollBack: func(t *testing.T, w *world, _ bot.Request) bot.Request {
				w.setOutcome(bot.DeployOutcome{}, nil)
				return w.rollbackNow(t)
			},
			wantState: bot.StateSucceeded,
			wantLock:  true,
		},
		{
			name: "explicit rollback that failed",
			rollBack: func(t *testing.T, w *world, _ bot.Request) bot.Request {
				w.setOutcome(bot.DeployOutcome{}, errors.New("ssh: connect to web1: connection refused"))
				return w.rollbackNow(t)
			},
			wantState: bot.StateFailed,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			w := newWorld(t)
			w.submit(t, "good", bot.NewRequest{Environment: "staging"})
			w.process(t)
			w.clock.Advance(time.Minute)

			// The bad change fails its health check; with the automatic
			// case this is the rollback, else it is marked good and the
			// rollback is explicit. Either way the deployer restores.
			w.changes.push("main", shaBad)
			if tt.wantState == bot.StateRolledBack {
				w.setOutcome(bot.DeployOutcome{Result: bot.ResultRolledBack, Error: "health check failed on web1"}, nil)
			}
			bad := w.submit(t, "bad", bot.NewRequest{Environment: "staging"}).Request
			w.process(t)
			w.clock.Advance(time.Minute)

			rb := tt.rollBack(t, w, bad)
			if rb.State != tt.wantState {
				t.Fatalf("rollback request %s is %s, want %s", rb.ID, rb.State, tt.wantState)
			}
			l, err := w.svc.EnvironmentLock(ctx, "acme/shop", "staging")
			if err != nil {
				t.Fatal(err)
			}
			if got := l != nil; got != tt.wantLock {
				t.Fatalf("locked = %v (%+v), want %v", got, l, tt.wantLock)
			}

			// Then carol merges the fix.
			w.setOutcome(bot.DeployOutcome{}, nil)
			w.clock.Advance(time.Minute)
			w.changes.push("main", shaFix)
			_, err = w.svc.Submit(ctx, bot.NewRequest{SourceKey: "fix", Repo: "acme/shop", Environment: "staging",
				Ref: "main", Trigger: bot.TriggerMerge, Requester: carol})
			if tt.wantLock {
				wantRefusal(t, err, bot.CodeLocked, "locked by alice")
				if !slices.Contains(w.auditActions(t, "acme/shop staging"), "lock.acquired") {
					t.Errorf("the lock was not audited: %v", w.auditActions(t, "acme/shop staging"))
				}
				return
			}
			if err != nil {
				t.Fatalf("the fix was refused after %s: %v", tt.name, err)
			}
			w.process(t)
			if calls := w.deployer.Calls(); calls[len(calls)-1] != "deploy acme/shop staging 5555555" {
				t.Errorf("the fix was not deployed; deployer calls: %v", calls)
			}
		})
	}
}

func (w *world) process(t *testing.T) {
	t.Helper()
	if _, err := w.svc.ProcessQueue(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (w *world) setOutcome(out bot.DeployOutcome, err error) {
	w.deployer.mu.Lock()
	defer w.deployer.mu.Unlock()
	w.deployer.outcome, w.deployer.err = out, err
}

// rollbackNow has alice roll staging back and runs it.
func (w *world) rollbackNow(t *testing.T) bot.Request {
	t.Helper()
	rb := w.submit(t, "rollback", bot.NewRequest{Environment: "staging", Trigger: bot.TriggerRollback}).Request
	w.process(t)
	r, err := w.svc.Request(context.Background(), rb.ID)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
