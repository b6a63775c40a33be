package main

import (
	"database/sql"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store"
)

// chaosKill is one SIGKILL: when, what it aimed at, which replica process
// (its index, pid and replica id) and the requests it was running.
type chaosKill struct {
	at      time.Time
	aim     string // "deploy" (the runner of a running deploy), "leader" (the jobs leader) or "random"
	replica int
	pid     int
	id      string // the replicas row of the process ("" if it had none yet)
	running []string
}

// chaosKiller SIGKILLs replicas on a seeded schedule and starts each again
// shortly after. The schedule is fixed in length (kills), so the test's
// duration is bounded, and aimed, so what it must exercise happens in every
// run rather than by luck: the first kills go for the replica running a
// deploy until one lands mid-deploy, one goes for the jobs leader (whose
// takeover time is measured), the rest hit a random replica.
type chaosKiller struct {
	t     *testing.T
	h     *haReplicas
	rng   *rand.Rand
	every time.Duration
	kills int

	done      chan struct{}
	takeovers sync.WaitGroup

	mu        sync.Mutex
	log       []chaosKill
	takeover  []time.Duration // from killing the jobs leader to another replica holding the lease
	midDeploy int             // kills that landed while the replica ran a deploy
}

// chaosAimWait bounds how long a kill aimed at a deploy waits for one to run.
const chaosAimWait = 10 * time.Second

// startKiller starts the schedule: kills kills about every `every`
// (seeded), plus up to three more aimed at a deploy while none has landed
// mid-deploy yet.
func startKiller(t *testing.T, h *haReplicas, rng *rand.Rand, every time.Duration, kills int) *chaosKiller {
	k := &chaosKiller{t: t, h: h, rng: rng, every: every, kills: kills, done: make(chan struct{})}
	go k.run()
	return k
}

func (k *chaosKiller) run() {
	defer close(k.done)
	for i := 0; i < k.kills || (k.landedMidDeploy() == 0 && i < k.kills+3); i++ {
		time.Sleep(k.every/2 + time.Duration(k.rng.Int64N(int64(k.every))))
		aim := "random"
		switch {
		case k.landedMidDeploy() == 0:
			aim = "deploy"
		case i%3 == 1:
			aim = "leader"
		}
		i := k.target(aim)
		if i < 0 {
			aim, i = "random", k.rng.IntN(len(k.h.children))
		}
		k.kill(aim, i)
		time.Sleep(time.Duration(300+k.rng.IntN(900)) * time.Millisecond)
		k.h.children[i].start(k.t)
	}
}

// wait waits for the schedule to end and for every takeover measured, then
// makes sure every replica runs, and returns the kills.
func (k *chaosKiller) wait() []chaosKill {
	<-k.done
	k.takeovers.Wait()
	for _, c := range k.h.children {
		if !c.running() {
			c.start(k.t)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.log
}

func (k *chaosKiller) landedMidDeploy() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.midDeploy
}

// target returns the index of the replica to kill for aim, or -1.
func (k *chaosKiller) target(aim string) int {
	var q string
	switch aim {
	case "deploy":
		q = `SELECT p.pid FROM requests r JOIN replicas p ON p.id = r.runner WHERE r.state = 'running' ORDER BY r.started_at LIMIT 1`
	case "leader":
		q = `SELECT p.pid FROM leader_leases l JOIN replicas p ON p.id = l.holder WHERE l.name = 'jobs'`
	default:
		return -1
	}
	st := openReadOnly(k.t, k.h.e.dbPath)
	defer st.Close()
	for deadline := time.Now().Add(chaosAimWait); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var pid int
		err := st.DB().QueryRow(q).Scan(&pid)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			k.t.Errorf("finding the replica to kill (%s): %v", aim, err)
			return -1
		}
		for i, c := range k.h.children {
			if c.running() && c.cmd.Process.Pid == pid {
				return i
			}
		}
	}
	k.t.Logf("no replica to aim a kill at (%s) within %s", aim, chaosAimWait)
	return -1
}

// kill SIGKILLs replica i and records what it ran; when it led the jobs,
// how long until another replica leads them is measured in the background.
func (k *chaosKiller) kill(aim string, i int) {
	c := k.h.children[i]
	pid := c.cmd.Process.Pid
	st := openReadOnly(k.t, k.h.e.dbPath)
	defer st.Close()
	var id string
	if err := st.DB().QueryRow(`SELECT id FROM replicas WHERE pid = ?`, pid).Scan(&id); err != nil && !errors.Is(err, sql.ErrNoRows) {
		k.t.Errorf("replica of pid %d: %v", pid, err)
	}
	c.kill(k.t)
	kill := chaosKill{at: time.Now(), aim: aim, replica: i, pid: pid, id: id, running: runningOn(k.t, st, id)}
	var leader string
	_ = st.DB().QueryRow(`SELECT holder FROM leader_leases WHERE name = 'jobs'`).Scan(&leader)
	k.mu.Lock()
	k.log = append(k.log, kill)
	if len(kill.running) > 0 {
		k.midDeploy++
	}
	k.mu.Unlock()
	if id != "" && leader == id {
		k.takeovers.Go(func() { k.measureTakeover(id, kill.at) })
	}
}

// measureTakeover waits until a replica other than the killed one holds
// the jobs lease, and records how long that took.
func (k *chaosKiller) measureTakeover(killed string, at time.Time) {
	st := openReadOnly(k.t, k.h.e.dbPath)
	defer st.Close()
	for time.Since(at) < time.Minute {
		var holder string
		if err := st.DB().QueryRow(`SELECT holder FROM leader_leases WHERE name = 'jobs'`).Scan(&holder); err == nil && holder != killed {
			k.mu.Lock()
			k.takeover = append(k.takeover, time.Since(at))
			k.mu.Unlock()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	k.t.Errorf("no replica took the jobs over within a minute of killing their leader %s", killed)
}

// runningOn lists the requests replica id was running.
func runningOn(t *testing.T, st *store.Store, id string) []string {
	t.Helper()
	if id == "" {
		return nil
	}
	return queryStrings(t, st, `SELECT id FROM requests WHERE state = 'running' AND runner = ?`, id)
}
