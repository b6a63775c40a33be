package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that it always
// gives either a config or a located ValidationError, never both.
func FuzzParse(f *testing.F) {
	f.Add([]byte(baseConfig))
	f.Add([]byte(production(withTargets("deployers: [backend]", "freeze:", "  - name: w", `    weekly: sun 23:30 - mon 01:00`, "    timezone: Asia/Tokyo")...)))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("public_url: ${X:-$${}\n"))
	if data, err := os.ReadFile(filepath.Join("..", "testdata", "tollgate.example.yml")); err == nil {
		f.Add(data)
	}
	lookup := env(map[string]string{"WEBHOOK_SECRET": "w", "EMPTY": ""})
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, _, err := Parse("f.yml", data, lookup)
		if err == nil {
			if cfg == nil {
				t.Fatal("no config and no error")
			}
			// A valid config must summarise without trouble.
			var b strings.Builder
			if err := cfg.WriteSummary(&b); err != nil {
				t.Fatal(err)
			}
			return
		}
		if cfg != nil {
			t.Fatal("a config along with an error")
		}
		var verr *ValidationError
		if !errors.As(err, &verr) || len(verr.Problems) == 0 {
			t.Fatalf("error %T without problems: %v", err, err)
		}
		for _, p := range verr.Problems {
			if p.Line < 1 || !strings.HasPrefix(p.String(), "f.yml:") {
				t.Fatalf("unlocated problem: %q", p)
			}
		}
	})
}
