package deploy_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/deploy"
)

// BenchmarkDriftCheck: a drift check of the benchmarks' release (20,000
// files, 200 MiB) on one server, against hashing the same release with
// the usual one-liner, `ssh host 'cd current && find . -type f -print0 |
// xargs -0 sha256sum' | sha256sum`, interleaved in each round. See
// BENCHMARKS.md ("Drift check").
func BenchmarkDriftCheck(b *testing.B) {
	e := newBenchEnv(b, 1)
	s := e.servers[0]
	for _, c := range benchCiphers {
		b.Run(c.name, func(b *testing.B) {
			root := b.TempDir() + "/app"
			t := e.target(c.cipher, []string{root})
			res := e.deployTree(b, t, "r1")
			want := deploy.DriftExpect{Release: res.Release, ManifestDigest: res.ManifestDigest}
			eng := &deploy.Engine{}
			oneLiner := fmt.Sprintf("%s 'cd %s/current && find . -type f -print0 | xargs -0 sha256sum' | sha256sum",
				strings.Join(e.sshCmd(s, c.cipher), " "), root)
			var engine, baseline float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				engine += timed(func() {
					rep, err := eng.Drift(context.Background(), t, want, deploy.DriftOptions{})
					if err != nil || rep.Drifted() {
						b.Fatalf("drift check: err %v, drifted %v", err, rep.Drifted())
					}
				}).Seconds()
				baseline += timed(func() { run(b, "sh", "-c", oneLiner) }).Seconds()
			}
			b.ReportMetric(engine/float64(b.N), "drift-check-s")
			b.ReportMetric(baseline/float64(b.N), "ssh-find-sha256sum-s")
			b.ReportMetric(engine/baseline, "drift/one-liner")
			b.ReportMetric(0, "ns/op")
		})
	}
}
