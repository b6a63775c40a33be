package main

import (
	"crypto/sha256"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cpuSample is the CPU time used so far, read from /proc (Linux): by a
// configuration's serve processes, by the PostgreSQL server's processes,
// and by the whole machine (which includes this benchmark's load generator
// and the fake GitHub and Slack it serves).
type cpuSample struct {
	at             time.Time
	serve, machine time.Duration
	postgres       map[string]time.Duration // by pid: backends come and go
}

// roundCPU is what one round cost: its wall time and the CPU used during it.
type roundCPU struct {
	wall, serve, postgres, machine time.Duration
}

// clockTick is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// sampleCPU reads the CPU used so far; what it cannot read counts as 0
// (a benchmark off Linux reports zeros rather than failing).
func sampleCPU(serves []*serveChild) cpuSample {
	s := cpuSample{at: time.Now(), postgres: map[string]time.Duration{}}
	for _, c := range serves {
		if c.cmd != nil && c.cmd.Process != nil {
			s.serve += processCPU(strconv.Itoa(c.cmd.Process.Pid))
		}
	}
	if entries, err := os.ReadDir("/proc"); err == nil {
		for _, e := range entries {
			comm, err := os.ReadFile("/proc/" + e.Name() + "/comm")
			if err == nil && strings.TrimSpace(string(comm)) == "postgres" {
				s.postgres[e.Name()] = processCPU(e.Name())
			}
		}
	}
	s.machine = machineCPU()
	return s
}

// since is the round between an earlier sample and s. A PostgreSQL
// process that started meanwhile counts from 0; one that exited meanwhile
// is not counted (what it used in the round is gone with it).
func (s cpuSample) since(earlier cpuSample) roundCPU {
	var postgres time.Duration
	for pid, used := range s.postgres {
		postgres += used - earlier.postgres[pid]
	}
	return roundCPU{wall: s.at.Sub(earlier.at), serve: s.serve - earlier.serve,
		postgres: postgres, machine: s.machine - earlier.machine}
}

// busy is the share of the machine's cores the round kept busy.
func (r roundCPU) busy() float64 {
	if r.wall <= 0 {
		return 0
	}
	return float64(r.machine) / float64(r.wall) / float64(runtime.NumCPU())
}

func (r roundCPU) String() string {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	return fmt.Sprintf("wall %d ms, CPU: serve %d ms, postgres %d ms, machine %d ms (%.0f%% of %d cores)",
		ms(r.wall), ms(r.serve), ms(r.postgres), ms(r.machine), 100*r.busy(), runtime.NumCPU())
}

// meanCPU is the mean of rounds, field by field.
func meanCPU(rounds []roundCPU) roundCPU {
	var m roundCPU
	if len(rounds) == 0 {
		return m
	}
	for _, r := range rounds {
		m.wall += r.wall
		m.serve += r.serve
		m.postgres += r.postgres
		m.machine += r.machine
	}
	n := time.Duration(len(rounds))
	return roundCPU{wall: m.wall / n, serve: m.serve / n, postgres: m.postgres / n, machine: m.machine / n}
}

// processCPU is the user and system time of process pid (or "self").
func processCPU(pid string) time.Duration {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 > len(s) {
		return 0
	}
	f := strings.Fields(s[i+2:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * clockTick
}

// machineCPU is the time all cores spent running something: user, nice,
// system, irq and softirq time (not idle or iowait, not time the
// hypervisor stole, and not guest time, which user time already counts).
func machineCPU() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7} {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * clockTick
}

// TestCPUAccountingSeesWork checks the benchmark's CPU accounting against
// getrusage: after this process has used 100 ms of CPU, /proc must show it,
// or the benchmark's CPU figures would be silently wrong.
func TestCPUAccountingSeesWork(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	rusage := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	self, machine, start := processCPU("self"), machineCPU(), rusage()
	for deadline := time.Now().Add(30 * time.Second); rusage()-start < 100*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatal("could not use 100 ms of CPU in 30 s")
		}
		for i := range 10000 { // user time, mostly: getrusage itself is system time
			_ = sha256.Sum256([]byte{byte(i)})
		}
	}
	if used := processCPU("self") - self; used < 50*time.Millisecond {
		t.Errorf("/proc/self/stat shows %s of CPU after getrusage counted 100 ms, want at least 50 ms", used)
	}
	if used := machineCPU() - machine; used < 50*time.Millisecond {
		t.Errorf("/proc/stat shows %s of CPU after this process alone used 100 ms, want at least 50 ms", used)
	}
}
