package audit_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

// runMonitor runs m until the test ends.
func runMonitor(t *testing.T, m *audit.Monitor) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitStatus waits for a finished verification that started after after.
func waitStatus(t *testing.T, m *audit.Monitor, after time.Time) audit.VerifyStatus {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if st := m.Status(); st.Done && !st.Started.Before(after) {
			return st
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Fatal("no verification finished in 10 s")
	return audit.VerifyStatus{}
}

func TestMonitorVerifiesAtStartAndAfterEachCheckpoint(t *testing.T) {
	ctx := context.Background()
	f := audittest.Build(t, 30, 10)
	s, err := store.Open(ctx, f.Path, store.Options{Signer: f.Keys.Signer})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys := func() (audit.Keyring, error) { return audit.Keyring{f.Keys.Verifier}, nil }
	m := audit.NewMonitor(s.DB(), keys, audit.MonitorOptions{Poll: 5 * time.Millisecond, MinGap: time.Millisecond})
	if st := m.Status(); st.Done || st.Running {
		t.Fatalf("status before Run: %+v", st)
	}
	start := time.Now()
	runMonitor(t, m)
	if st := waitStatus(t, m, start); !st.Report.OK || st.Report.Size != 30 || st.Finished.Before(st.Started) {
		t.Fatalf("first verification: %+v", st)
	}

	// Entries alone start nothing; a new checkpoint does.
	appendOne := func(i int) {
		if err := s.WithTx(ctx, func(tx *sql.Tx) error {
			_, err := s.Audit().Append(ctx, tx, audittest.Event(i))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	appendOne(30)
	time.Sleep(50 * time.Millisecond)
	if st := m.Status(); st.Report.Size != 30 {
		t.Fatalf("verified again without a new checkpoint: %+v", st.Report)
	}
	start = time.Now()
	if _, err := s.Audit().Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if st := waitStatus(t, m, start); !st.Report.OK || st.Report.Size != 31 || st.Report.UnsignedTail != 0 {
		t.Fatalf("after the checkpoint: %+v", st.Report)
	}

	// Tampering shows at the next run, named.
	db := audittest.OpenRaw(t, f.Path)
	audittest.DropTriggers(t, db)
	audittest.Exec(t, db, `UPDATE audit_entries SET actor = 'mallory' WHERE seq = 4`)
	start = time.Now()
	m.Check()
	st := waitStatus(t, m, start)
	if st.Report.OK || st.Report.Problem == nil || !strings.HasPrefix(st.Report.Problem.String(), "entry seq 4:") {
		t.Fatalf("after tampering: %+v", st.Report)
	}
}

func TestMonitorRunsAtMostOncePerGapAndReportsKeyErrors(t *testing.T) {
	f := audittest.Build(t, 12, 5)
	s, err := store.OpenReadOnly(context.Background(), f.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	m := audit.NewMonitor(s.DB(), func() (audit.Keyring, error) { return nil, nil },
		audit.MonitorOptions{Poll: time.Millisecond, MinGap: time.Hour})
	start := time.Now()
	runMonitor(t, m)
	st := waitStatus(t, m, start)
	if st.Err == nil || !strings.Contains(st.Err.Error(), "no audit public key") {
		t.Fatalf("with no key: %+v", st)
	}
	m.Check()
	time.Sleep(30 * time.Millisecond)
	if again := m.Status(); !again.Started.Equal(st.Started) {
		t.Fatalf("ran again within the gap: %+v", again)
	}
}
