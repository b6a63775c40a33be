package audit_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/audit"
	"github.com/tollgate-dev/tollgate/store/audit/audittest"
)

const helperEnv = "TOLLGATE_AUDIT_CRASH_HELPER"

// TestHelperProcess is the child of TestSIGKILLWhileAppending: it appends
// batches of three events forever, printing the size after each commit.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("only run as a child process")
	}
	dbPath, keyPath, _ := strings.Cut(spec, "|")
	ctx := context.Background()
	signer, err := audit.LoadSigner(keyPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	s, err := store.Open(ctx, dbPath, store.Options{Signer: signer, CheckpointEvery: 7})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	for i := 0; ; i++ {
		var last audit.Entry
		err := s.WithTx(ctx, func(tx *sql.Tx) error {
			es, err := s.Audit().AppendBatch(ctx, tx, []audit.Event{audittest.Event(3 * i), audittest.Event(3*i + 1), audittest.Event(3*i + 2)})
			if err == nil {
				last = es[2]
			}
			return err
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Printf("committed %d\n", last.Seq+1)
	}
}

func TestSIGKILLWhileAppending(t *testing.T) {
	dir := t.TempDir()
	keys := audittest.NewKeys(t, dir, audittest.KeyName)
	dbPath := filepath.Join(dir, "tollgate.db")
	// Create the schema first so the child's appends start at once.
	s, err := store.Open(context.Background(), dbPath, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()

	for round := 1; round <= 3; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), helperEnv+"="+dbPath+"|"+keys.PrivateKeyFile)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Kill it mid-stream, once it has committed at least 100 more entries.
		var committed int64
		sc := bufio.NewScanner(out)
		deadline := time.Now().Add(2 * time.Minute)
		start := int64(-1)
		for sc.Scan() && time.Now().Before(deadline) {
			n, err := strconv.ParseInt(strings.TrimPrefix(sc.Text(), "committed "), 10, 64)
			if err != nil {
				continue
			}
			committed = n
			if start < 0 {
				start = n
			}
			if n-start >= 100 {
				break
			}
		}
		// Let it run on a little so the kill lands at a different point of
		// an append each round (it spends nearly all its time in one).
		time.Sleep(time.Duration(round*7) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		if committed == 0 {
			t.Fatalf("round %d: the child committed nothing", round)
		}

		ro, err := store.OpenReadOnly(context.Background(), dbPath)
		if err != nil {
			t.Fatal(err)
		}
		r, err := audit.Verify(context.Background(), ro.DB(), keys.Verifier)
		ro.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !r.OK {
			t.Fatalf("round %d: log does not verify after SIGKILL: %v", round, r.Problem)
		}
		// Every reported commit survived, and no transaction is half there:
		// each one appended three entries.
		if r.Size < committed || r.Size%3 != 0 {
			t.Fatalf("round %d: size %d after SIGKILL; child reported %d committed; want >= and a multiple of 3", round, r.Size, committed)
		}
		t.Logf("round %d: killed after %d reported commits; log size %d, %d unsigned", round, committed, r.Size, r.UnsignedTail)
	}
}
