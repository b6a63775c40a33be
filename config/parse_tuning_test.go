package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseDeployTuning(t *testing.T) {
	cases := []struct {
		name          string
		lines         []string
		parallel, pct int
		wantErr       string
	}{
		{"defaults", nil, DefaultMaxParallel, DefaultTarballAbovePercent, ""},
		{"max_parallel_servers", []string{"max_parallel_servers: 4"}, 4, DefaultTarballAbovePercent, ""},
		{"older name", []string{"max_parallel: 3"}, 3, DefaultTarballAbovePercent, ""},
		{"both names", []string{"max_parallel: 3", "max_parallel_servers: 4"}, 0, 0,
			"production.max_parallel: set max_parallel_servers or its older name max_parallel, not both"},
		{"zero servers", []string{"max_parallel_servers: 0"}, 0, 0, "production.max_parallel_servers: must be between 1 and 1000, got 0"},
		{"tarball always", []string{"tarball_above_percent: 0"}, DefaultMaxParallel, 0, ""},
		{"tarball percent", []string{"tarball_above_percent: 35"}, DefaultMaxParallel, 35, ""},
		{"percent over 100", []string{"tarball_above_percent: 120"}, 0, 0,
			"production.tarball_above_percent: must be between 0 and 100 (0: always the whole tarball), got 120"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := Parse("tollgate.yml", []byte(production(withTargets(append([]string{"deployers: [backend]"}, tc.lines...)...)...)), testEnv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			env, _ := cfg.Environment("acme/api", "production")
			if env.MaxParallel != tc.parallel || env.TarballAbovePercent != tc.pct {
				t.Errorf("max_parallel_servers %d, tarball_above_percent %d; want %d, %d", env.MaxParallel, env.TarballAbovePercent, tc.parallel, tc.pct)
			}
		})
	}
}

// TestParseDriftInterval: drift.interval takes a duration, 0 turns the
// scheduled check off, a negative or malformed one is refused with its line.
func TestParseDriftInterval(t *testing.T) {
	for text, want := range map[string]time.Duration{"15m": 15 * time.Minute, "0": 0, "2h": 2 * time.Hour} {
		cfg, _ := mustParse(t, "t.yml", baseConfig+"drift:\n  interval: "+text+"\n", testEnv)
		if cfg.Drift.Interval != want {
			t.Errorf("drift.interval %s: %s, want %s", text, cfg.Drift.Interval, want)
		}
	}
	for _, bad := range []string{"-1h", "often"} {
		_, _, err := Parse("t.yml", []byte(baseConfig+"drift:\n  interval: "+bad+"\n"), testEnv)
		if err == nil || !strings.Contains(err.Error(), "drift.interval") {
			t.Errorf("drift.interval %s: err %v", bad, err)
		}
	}
}
