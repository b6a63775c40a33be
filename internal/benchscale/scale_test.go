//go:build benchscale

package benchscale

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/store"
	"github.com/tollgate-dev/tollgate/store/evidence/evidencetest"
)

var (
	sizesFlag = flag.String("sizes", "1000,10000,100000", "history sizes (deploy requests), comma-separated")
	binFlag   = flag.String("tollgate", "", "the tollgate binary to measure (make bench-scale builds it)")
	cacheFlag = flag.String("cache", "", "directory keeping generated histories between runs (default: a temp dir)")
	outFlag   = flag.String("out", "", "also write the results table (markdown) to this file")
	reps      = flag.Int("page-reps", 15, "warm requests per page; the median is reported")
	genOnly   = flag.Bool("generate-only", false, "only generate (and cache) the histories")
)

// result is one measured operation at one size.
type result struct {
	op      string
	seconds float64
	cpu     float64 // user+system CPU seconds of the process; 0 for pages
	rssMB   float64 // peak RSS of the process; 0 for pages
}

func TestScale(t *testing.T) {
	if *binFlag == "" {
		t.Skip("give -tollgate BINARY (make bench-scale)")
	}
	cache := *cacheFlag
	if cache == "" {
		cache = t.TempDir()
	}
	var sizes []int
	for _, s := range strings.Split(*sizesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			t.Fatalf("-sizes: %q is not a size", s)
		}
		sizes = append(sizes, n)
	}
	all := map[int][]result{}
	for _, n := range sizes {
		h := history(t, cache, n)
		if *genOnly {
			continue
		}
		t.Logf("size %d: %d audit entries, %d requests, load %s", n, h.entries, h.requests, loadAvg())
		var rs []result
		rs = append(rs, commands(t, h)...)
		rs = append(rs, pages(t, h)...)
		all[n] = rs
		for _, r := range rs {
			t.Logf("  %-40s %9.3f s %9.3f s CPU %8.1f MB", r.op, r.seconds, r.cpu, r.rssMB)
		}
	}
	if *genOnly {
		return
	}
	table := formatTable(sizes, all)
	t.Log("\n" + table)
	if *outFlag != "" {
		if err := os.WriteFile(*outFlag, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// scaleHistory is a generated history kept on disk.
type scaleHistory struct {
	dir, db, key, pub string
	from, to          time.Time
	entries, requests int64
	size              int
}

// history returns the history of n requests in cache, generating it once.
func history(t *testing.T, cache string, n int) scaleHistory {
	dir := filepath.Join(cache, fmt.Sprintf("history-%d", n))
	h := scaleHistory{dir: dir, db: filepath.Join(dir, "tollgate.db"), key: filepath.Join(dir, "audit.key"),
		pub: filepath.Join(dir, "audit.pub"), size: n}
	if _, err := os.Stat(filepath.Join(dir, "range")); err != nil {
		start := time.Now()
		gen := evidencetest.Build(t, n, 1)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		os.Remove(h.db)
		if _, err := gen.Store.DB().Exec(`VACUUM INTO ?`, h.db); err != nil {
			t.Fatal(err)
		}
		copyFile(t, gen.Keys.PrivateKeyFile, h.key, 0o600)
		copyFile(t, gen.Keys.PublicKeyFile, h.pub, 0o644)
		rng := gen.From.Format(time.DateOnly) + " " + gen.To.AddDate(0, 0, -1).Format(time.DateOnly)
		if err := os.WriteFile(filepath.Join(dir, "range"), []byte(rng), 0o644); err != nil {
			t.Fatal(err)
		}
		gen.Store.Close()
		t.Logf("generated %d requests in %s", n, time.Since(start).Round(time.Second))
	}
	// Apply this build's migrations first, so no measured command does.
	if st, err := store.Open(context.Background(), h.db, store.Options{}); err != nil {
		t.Fatal(err)
	} else {
		st.Close()
	}
	b, err := os.ReadFile(filepath.Join(dir, "range"))
	if err != nil {
		t.Fatal(err)
	}
	from, to, _ := strings.Cut(string(b), " ")
	h.from, _ = time.Parse(time.DateOnly, from)
	h.to, _ = time.Parse(time.DateOnly, to)
	st, err := store.OpenReadOnly(context.Background(), h.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	count := func(q string) int64 {
		var v int64
		if err := st.DB().QueryRow(q).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	h.entries, h.requests = count(`SELECT count(*) FROM audit_entries`), count(`SELECT count(*) FROM requests`)
	return h
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// commands runs what an operator and an auditor run, one process each.
func commands(t *testing.T, h scaleHistory) []result {
	work := t.TempDir()
	pack := filepath.Join(work, "pack")
	day := func(tm time.Time) string { return tm.Format(time.DateOnly) }
	runs := []struct {
		op   string
		args []string
	}{
		{"verify", []string{"verify", "--database", h.db, "--public-key", h.pub}},
		{"evidence", []string{"evidence", "--database", h.db, "--signing-key", h.key, "--public-key", h.pub,
			"--from", day(h.from), "--to", day(h.to), "--sample", "25", "--seed", "1", "--out", pack}},
		{"evidence verify", []string{"evidence", "verify", pack, "--public-key", h.pub}},
		{"backup", []string{"backup", "--database", h.db, "--public-key", h.pub, "--out", filepath.Join(work, "backup.db")}},
	}
	var out []result
	for _, r := range runs {
		cmd := exec.Command(*binFlag, r.args...)
		start := time.Now()
		b, err := cmd.CombinedOutput()
		took := time.Since(start)
		if err != nil {
			t.Fatalf("tollgate %s: %v\n%s", strings.Join(r.args, " "), err, b)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		out = append(out, result{op: r.op, seconds: took.Seconds(), cpu: cpu.Seconds(), rssMB: float64(ru.Maxrss) / 1024})
	}
	return out
}

// formatTable lays the results out one row per operation, one column per
// size, with the growth exponent between the two largest sizes.
func formatTable(sizes []int, all map[int][]result) string {
	var b strings.Builder
	b.WriteString("| operation |")
	for _, n := range sizes {
		fmt.Fprintf(&b, " %s: time | %s: CPU | %s: peak RSS |", human(n), human(n), human(n))
	}
	b.WriteString(" exponent |\n|---|")
	for range sizes {
		b.WriteString("---|---|---|")
	}
	b.WriteString("---|\n")
	for i, r := range all[sizes[0]] {
		fmt.Fprintf(&b, "| %s |", r.op)
		for _, n := range sizes {
			x := all[n][i]
			cpu, rss := "—", "—"
			if x.rssMB > 0 {
				cpu, rss = dur(x.cpu), fmt.Sprintf("%.0f MB", x.rssMB)
			}
			fmt.Fprintf(&b, " %s | %s | %s |", dur(x.seconds), cpu, rss)
		}
		exp := "—"
		if k := len(sizes); k >= 2 {
			a, c := all[sizes[k-2]][i], all[sizes[k-1]][i]
			if a.seconds > 0 && c.seconds > 0 {
				exp = fmt.Sprintf("%.2f", math.Log(c.seconds/a.seconds)/math.Log(float64(sizes[k-1])/float64(sizes[k-2])))
			}
		}
		fmt.Fprintf(&b, " %s |\n", exp)
	}
	return b.String()
}

func human(n int) string {
	if n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

func dur(s float64) string {
	if s < 1 {
		return fmt.Sprintf("%.1f ms", s*1000)
	}
	return fmt.Sprintf("%.2f s", s)
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

var _ = sql.ErrNoRows
