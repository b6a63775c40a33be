package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store/storetest"
)

// haListenEnv names the address a replica listens on: the replicas share
// one configuration file, whose listen key is ${TOLLGATE_TEST_LISTEN}, as
// replicas on one host would take their port from the environment.
const haListenEnv = "TOLLGATE_TEST_LISTEN"

// haLease is the replicas' lease in the tests: short, so takeovers happen
// within the tests' patience.
const haLease = "3s"

// haReplicas is an e2e world served by several `tollgate serve` processes
// (replicas) of one configuration on one PostgreSQL schema.
type haReplicas struct {
	e        *e2e
	children []*serveChild
	mu       sync.Mutex
	rng      *rand.Rand
	notes    map[string]int // what clients were told besides acknowledgements
}

// noted counts an answer a client got, for the test's log.
func (h *haReplicas) noted(what string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.notes == nil {
		h.notes = map[string]int{}
	}
	h.notes[what]++
}

// serveReplicas moves e's configuration to a new PostgreSQL schema, with
// listen taken from the environment, and starts n replicas of it; every
// request e sends goes to a random one of them.
func serveReplicas(t *testing.T, e *e2e, n int) *haReplicas {
	t.Helper()
	return serveReplicasWith(t, e, n, haLease)
}

// serveReplicasWith is serveReplicas with the replicas' lease.
func serveReplicasWith(t *testing.T, e *e2e, n int, lease string) *haReplicas {
	t.Helper()
	return serveReplicasOn(t, e, n, lease, storetest.NewSchema(t, false))
}

// serveReplicasOn is serveReplicasWith on the PostgreSQL database at dsn.
func serveReplicasOn(t *testing.T, e *e2e, n int, lease, dsn string) *haReplicas {
	t.Helper()
	moveConfigToPostgres(t, e.configPath, dsn, "replicas:\n  lease: "+lease+"\n")
	e.dbPath = dsn
	// Commands this process runs on the configuration (verify) expand it too.
	t.Setenv(haListenEnv, "127.0.0.1:0")
	seed := uint64(time.Now().UnixNano())
	t.Logf("replica choice seed %d", seed)
	h := &haReplicas{e: e, rng: rand.New(rand.NewPCG(seed, 3))}
	h.children = startReplicas(t, e.configPath, n)
	e.addr = h.children[0].addr
	e.pick = h.random
	return h
}

// startReplicas starts n serve processes of the configuration at
// configPath, each listening on its own loopback address (haListenEnv).
func startReplicas(tb testing.TB, configPath string, n int) []*serveChild {
	tb.Helper()
	var children []*serveChild
	for range n {
		addr := freeLoopbackAddr(tb)
		c := newServeChild(tb, configPath, addr)
		c.env = []string{haListenEnv + "=" + addr}
		children = append(children, c)
	}
	var wg sync.WaitGroup
	for _, c := range children {
		wg.Go(func() { c.start(tb) })
	}
	wg.Wait()
	return children
}

// moveConfigToPostgres points the configuration at configPath, whose
// database is tollgate.db, at dsn instead (adding the keys in extra after
// it), with listen taken from the environment (haListenEnv) so replicas
// share the file.
func moveConfigToPostgres(tb testing.TB, configPath, dsn, extra string) {
	tb.Helper()
	cfg := readTestFile(tb, configPath)
	if !strings.Contains(cfg, "\ndatabase: tollgate.db\n") {
		tb.Fatalf("the configuration names no SQLite database to replace:\n%s", cfg)
	}
	cfg = regexp.MustCompile(`(?m)^listen: .*$`).ReplaceAllLiteralString(cfg, `listen: "${`+haListenEnv+`}"`)
	cfg = strings.Replace(cfg, "\ndatabase: tollgate.db\n", fmt.Sprintf("\ndatabase: %q\n", dsn)+extra, 1)
	writeTestFile(tb, configPath, cfg)
}

// random returns the address of a running replica chosen at random.
func (h *haReplicas) random() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var up []string
	for _, c := range h.children {
		if c.running() {
			up = append(up, c.addr)
		}
	}
	if len(up) == 0 {
		return h.children[0].addr
	}
	return up[h.rng.IntN(len(up))]
}

// stop ends every replica with SIGTERM and fails unless each exits 0.
func (h *haReplicas) stop(t *testing.T) {
	t.Helper()
	var wg sync.WaitGroup
	for i, c := range h.children {
		if !c.running() {
			continue
		}
		wg.Go(func() {
			if err := c.terminate(t); err != nil {
				t.Errorf("replica %d exited with %v, want 0\n%s", i, err, c.logTail())
			}
		})
	}
	wg.Wait()
}

// logs is every replica's log.
func (h *haReplicas) logs() string {
	var b strings.Builder
	for i, c := range h.children {
		l, _ := os.ReadFile(c.logPath)
		fmt.Fprintf(&b, "--- replica %d (%s)\n%s\n", i, c.addr, l)
	}
	return b.String()
}

// metric returns the value of a metric line (name with labels) on replica i.
func (h *haReplicas) metric(t *testing.T, i int, name string) string {
	t.Helper()
	code, body, err := httpGetBody(h.children[i].url("/metrics"))
	if err != nil || code != http.StatusOK {
		t.Fatalf("metrics of replica %d: %d, %v", i, code, err)
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return ""
}

// leaders counts the replicas that say they run the singleton jobs.
func (h *haReplicas) leaders(t *testing.T) int {
	t.Helper()
	n := 0
	for i, c := range h.children {
		if c.running() && h.metric(t, i, "tollgate_jobs_leader") == "1" {
			n++
		}
	}
	return n
}

// waitForOneLeader waits until exactly one replica runs the jobs.
func (h *haReplicas) waitForOneLeader(t *testing.T) {
	t.Helper()
	waitFor(t, "one replica to run the singleton jobs", func() bool { return h.leaders(t) == 1 })
}

// httpGetBody fetches url and returns status and body.
func httpGetBody(url string) (int, string, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// auditCount counts the audit entries with action (about subject, when set).
func auditCount(t *testing.T, e *e2e, action, subject string) int {
	t.Helper()
	st := openReadOnly(t, e.dbPath)
	defer st.Close()
	q, args := `SELECT count(*) FROM audit_entries WHERE action = ?`, []any{action}
	if subject != "" {
		q, args = q+` AND subject = ?`, append(args, subject)
	}
	var n int
	if err := st.DB().QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
