package slack

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tollgate-dev/tollgate/bot"
)

// driftPathsShown bounds the paths one alert lists per server; the audit
// entry and `tollgate drift` have them all.
const driftPathsShown = 20

// driftText is the alert of a drift check that found a server differing
// from the release Tollgate put live, e.g.
//
//	:rotating_light: Drift on acme/shop production: web2:22 is not release 20261206-abcdef1 as deployed
//	• web2:22: changed lib/auth.php, added lib/shell.php
func driftText(c bot.DriftCheck) string {
	var b strings.Builder
	fmt.Fprintf(&b, ":rotating_light: *Drift on %s %s*: what runs on the servers below is not release %s as Tollgate deployed it (`tollgate drift --environment %s` lists every path).",
		esc(c.Repo), esc(c.Environment), esc(orNone(c.Expected.Release)), esc(c.Repo+"/"+c.Environment))
	for _, s := range c.Servers {
		if !s.Drifted() {
			continue
		}
		var items []string
		items = append(items, s.Findings...)
		kinds := make([]string, 0, len(s.Paths))
		for k := range s.Paths {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		n := 0
		for _, k := range kinds {
			for _, p := range s.Paths[k] {
				if n == driftPathsShown {
					break
				}
				items = append(items, strings.ReplaceAll(k, "_", " ")+" "+p)
				n++
			}
		}
		if total := countPaths(s.Paths); total > n {
			items = append(items, fmt.Sprintf("and %d more", total-n))
		}
		fmt.Fprintf(&b, "\n• %s: %s", esc(s.Server), esc(strings.Join(items, ", ")))
	}
	return b.String()
}

func countPaths(m map[string][]string) int {
	n := 0
	for _, ps := range m {
		n += len(ps)
	}
	return n
}
