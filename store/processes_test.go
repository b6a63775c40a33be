package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
	"github.com/tollgate-dev/tollgate/store/storetest"
)

// Several processes share one database: each Store here stands for one
// process (its own connection pool; on SQLite its own writer mutex), all
// opened on the same location.

// openProcesses opens n stores on one new database of t's engine.
func openProcesses(t *testing.T, n int, opts Options) []*Store {
	t.Helper()
	loc := storetest.Location(t)
	out := make([]*Store, n)
	for i := range out {
		s, err := Open(context.Background(), loc, opts)
		if err != nil {
			t.Fatalf("open process %d: %v", i, err)
		}
		t.Cleanup(func() { s.Close() })
		out[i] = s
	}
	return out
}

// Processes starting together on a new database apply each migration once.
func TestConcurrentOpensMigrateOnce(t *testing.T) { storetest.Run(t, testConcurrentOpensMigrateOnce) }

func testConcurrentOpensMigrateOnce(t *testing.T) {
	ctx := context.Background()
	loc := storetest.Location(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() {
			s, err := Open(ctx, loc, Options{})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
	}
	s, err := OpenReadOnly(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ms, _ := loadMigrations()
	var n int
	if err := s.DB().QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(ms) {
		t.Fatalf("schema_migrations has %d rows, %v; want %d", n, err, len(ms))
	}
}

// Workers in several processes claim and finish every inbox item exactly once.
func TestClaimersInSeveralProcesses(t *testing.T) { storetest.Run(t, testClaimersInSeveralProcesses) }

func testClaimersInSeveralProcesses(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	procs := openProcesses(t, 3, Options{Now: clock.Now, InboxLease: time.Hour})
	const items = 300
	for i := 0; i < items; i++ {
		if _, err := procs[i%3].Enqueue(ctx, InboxItem{Source: "github", DeliveryID: fmt.Sprintf("d-%d", i), EventType: "push"}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	claims := map[int64]int{}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		s := procs[w%3]
		wg.Go(func() {
			for {
				got, err := s.ClaimDue(ctx, clock.Now(), 5)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				for _, it := range got {
					mu.Lock()
					claims[it.ID]++
					mu.Unlock()
					if err := s.MarkDone(ctx, it.Lease()); err != nil {
						t.Errorf("mark %d done: %v", it.ID, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if len(claims) != items {
		t.Fatalf("%d distinct items claimed, want %d", len(claims), items)
	}
	for id, n := range claims {
		if n != 1 {
			t.Fatalf("item %d claimed %d times", id, n)
		}
	}
	if c, err := procs[0].Counts(ctx); err != nil || c.Pending != 0 {
		t.Fatalf("counts %+v, %v; want nothing pending", c, err)
	}
}

// A worker whose lease ran out and whose item another process claimed
// cannot mark it: its done, retry or failure changes nothing.
func TestStaleLeaseChangesNothing(t *testing.T) { storetest.Run(t, testStaleLeaseChangesNothing) }

func testStaleLeaseChangesNothing(t *testing.T) {
	ctx := context.Background()
	clock := &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)}
	procs := openProcesses(t, 2, Options{Now: clock.Now, InboxLease: time.Minute})
	slow, fast := procs[0], procs[1]
	if _, err := slow.Enqueue(ctx, InboxItem{Source: "github", DeliveryID: "d-1", EventType: "push"}); err != nil {
		t.Fatal(err)
	}
	first, err := slow.ClaimDue(ctx, clock.Now(), 1)
	if err != nil || len(first) != 1 {
		t.Fatalf("first claim: %v, %v", first, err)
	}
	if again, err := fast.ClaimDue(ctx, clock.Now(), 1); err != nil || len(again) != 0 {
		t.Fatalf("claimed during the lease: %v, %v", again, err)
	}
	second, err := fast.ClaimDue(ctx, clock.Add(2*time.Minute), 1) // the slow worker's lease ran out
	if err != nil || len(second) != 1 || second[0].LeaseToken <= first[0].LeaseToken {
		t.Fatalf("takeover: %+v, %v; want a newer token than %d", second, err, first[0].LeaseToken)
	}
	stale := first[0].Lease()
	for name, mark := range map[string]func() error{
		"done":   func() error { return slow.MarkDone(ctx, stale) },
		"retry":  func() error { return slow.MarkRetry(ctx, stale, errors.New("late"), clock.Now()) },
		"failed": func() error { return slow.MarkFailed(ctx, stale, errors.New("late")) },
	} {
		if err := mark(); !errors.Is(err, ErrInboxLeaseLost) {
			t.Errorf("stale %s: %v, want ErrInboxLeaseLost", name, err)
		}
	}
	it, err := fast.InboxItem(ctx, stale.ID)
	if err != nil || it.State != InboxPending || it.LastError != "" || it.LeaseToken != second[0].LeaseToken {
		t.Fatalf("after the stale marks: %+v, %v; want it untouched, still leased to the second claim", it, err)
	}
	if err := fast.MarkDone(ctx, second[0].Lease()); err != nil {
		t.Fatalf("the current holder's mark: %v", err)
	}
	if err := fast.MarkDone(ctx, second[0].Lease()); !errors.Is(err, ErrInboxLeaseLost) {
		t.Fatalf("marking twice: %v, want ErrInboxLeaseLost", err)
	}
}

// Two processes starting two queued deploys of one environment at once:
// one runs, the other gets ErrConflict (the partial unique index).
func TestOneRunningDeployAcrossProcesses(t *testing.T) {
	storetest.Run(t, testOneRunningDeployAcrossProcesses)
}

func testOneRunningDeployAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	procs := openProcesses(t, 2, Options{})
	for i := 0; i < 10; i++ {
		ids := []string{fmt.Sprintf("r-a%d", i), fmt.Sprintf("r-b%d", i)}
		for _, id := range ids {
			if _, _, err := procs[0].CreateRequest(ctx, sampleRequest(id, id, fmt.Sprintf("env-%d", i), bot.StateQueued), nil); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for p := range procs {
			wg.Go(func() {
				_, errs[p] = procs[p].UpdateRequest(ctx, ids[p], func(r *bot.Request) ([]bot.AuditEvent, error) {
					r.State = bot.StateRunning
					return event("deploy.started", r.ID), nil
				})
			})
		}
		wg.Wait()
		ok, conflicts := 0, 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case errors.Is(err, bot.ErrConflict):
				conflicts++
			default:
				t.Fatalf("round %d: %v", i, err)
			}
		}
		if ok != 1 || conflicts != 1 {
			t.Fatalf("round %d: %d started, %d refused; want one of each", i, ok, conflicts)
		}
	}
}

// Changes of one request from several processes queue up rather than
// fail: each reads the version the previous one wrote.
func TestConcurrentUpdatesOfOneRequest(t *testing.T) {
	storetest.Run(t, testConcurrentUpdatesOfOneRequest)
}

func testConcurrentUpdatesOfOneRequest(t *testing.T) {
	ctx := context.Background()
	procs := openProcesses(t, 3, Options{})
	if _, _, err := procs[0].CreateRequest(ctx, sampleRequest("r-1", "r-1", "production", bot.StateAwaitingApproval), nil); err != nil {
		t.Fatal(err)
	}
	const updates = 24
	var wg sync.WaitGroup
	for i := 0; i < updates; i++ {
		s := procs[i%3]
		wg.Go(func() {
			_, err := s.UpdateRequest(ctx, "r-1", func(r *bot.Request) ([]bot.AuditEvent, error) {
				r.ExternalRefs[fmt.Sprintf("k%d", i)] = "v"
				return event("request.noted", r.ID), nil
			})
			if err != nil {
				t.Errorf("update %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	r, err := procs[1].Request(ctx, "r-1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 1+updates || len(r.ExternalRefs) != 1+updates {
		t.Fatalf("version %d with %d refs; want %d and %d: an update was lost", r.Version, len(r.ExternalRefs), 1+updates, 1+updates)
	}
}

// Of several processes taking one environment lock at once, one holds it
// and the others are told who does.
func TestLockTakenByOneProcess(t *testing.T) { storetest.Run(t, testLockTakenByOneProcess) }

func testLockTakenByOneProcess(t *testing.T) {
	ctx := context.Background()
	procs := openProcesses(t, 4, Options{})
	now := reqT0
	// An expired lock is there to be replaced: the race is over replacing it.
	old := bot.Lock{Repo: "acme/shop", Environment: "production", Owner: bot.Identity{Login: "old", GitHubID: 99},
		Reason: "old", CreatedAt: now.Add(-2 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	if _, ok, err := procs[0].AcquireLock(ctx, old, now.Add(-90*time.Minute), event("lock.acquired", "production")[0]); err != nil || !ok {
		t.Fatalf("old lock: %v, %v", ok, err)
	}
	var wg sync.WaitGroup
	holders := make([]bot.Lock, len(procs))
	acquired := make([]bool, len(procs))
	for i, s := range procs {
		wg.Go(func() {
			l := bot.Lock{Repo: "acme/shop", Environment: "production", Owner: bot.Identity{Login: fmt.Sprintf("user%d", i), GitHubID: int64(i + 1)},
				Reason: "freeze", CreatedAt: now}
			var err error
			holders[i], acquired[i], err = s.AcquireLock(ctx, l, now, event("lock.acquired", "production")[0])
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	winner := -1
	for i, ok := range acquired {
		if ok {
			if winner >= 0 {
				t.Fatalf("processes %d and %d both acquired the lock", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("nobody acquired the lock")
	}
	want := fmt.Sprintf("user%d", winner)
	for i, h := range holders {
		if h.Owner.Login != want {
			t.Errorf("process %d was told %s holds it, want %s", i, h.Owner.Login, want)
		}
	}
}

// A linking secret used from several processes at once works once.
func TestOAuthStateUsedOnceAcrossProcesses(t *testing.T) {
	storetest.Run(t, testOAuthStateUsedOnceAcrossProcesses)
}

func testOAuthStateUsedOnceAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	procs := openProcesses(t, 4, Options{})
	for round := 0; round < 10; round++ {
		key := fmt.Sprintf("secret-%d", round)
		if err := procs[0].SaveOAuthState(ctx, OAuthState{Kind: OAuthLink, Key: key, Workspace: "T1", User: "U1",
			CreatedAt: reqT0, ExpiresAt: reqT0.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, len(procs))
		for i, s := range procs {
			wg.Go(func() { _, errs[i] = s.ConsumeOAuthState(ctx, OAuthLink, key, reqT0) })
		}
		wg.Wait()
		used := 0
		for _, err := range errs {
			switch {
			case err == nil:
				used++
			case !errors.Is(err, ErrOAuthStateUsed):
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if used != 1 {
			t.Fatalf("round %d: the secret worked %d times", round, used)
		}
	}
}

// The same delivery reaching two processes creates one request.
func TestCreateRequestOnceAcrossProcesses(t *testing.T) {
	storetest.Run(t, testCreateRequestOnceAcrossProcesses)
}

func testCreateRequestOnceAcrossProcesses(t *testing.T) {
	ctx := context.Background()
	procs := openProcesses(t, 3, Options{})
	for round := 0; round < 10; round++ {
		key := fmt.Sprintf("delivery-%d", round)
		var wg sync.WaitGroup
		created := make([]bool, len(procs))
		stored := make([]bot.Request, len(procs))
		for i, s := range procs {
			wg.Go(func() {
				var err error
				stored[i], created[i], err = s.CreateRequest(ctx, sampleRequest(fmt.Sprintf("r-%d-%d", round, i), key, "staging", bot.StateQueued),
					event("request.created", key))
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		n := 0
		for i := range procs {
			if created[i] {
				n++
			}
			if stored[i].ID != stored[0].ID {
				t.Fatalf("round %d: processes were handed requests %s and %s", round, stored[0].ID, stored[i].ID)
			}
		}
		if n != 1 {
			t.Fatalf("round %d: %d requests created, want 1", round, n)
		}
	}
	size, err := procs[0].Audit().Size(ctx)
	if err != nil || size != 10 {
		t.Fatalf("audit log has %d entries, %v; want one request.created per delivery", size, err)
	}
}
