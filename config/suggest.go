package config

import (
	"fmt"
	"sort"
	"strings"
)

// suggest returns a "did you mean" hint naming the candidate closest to
// got, or a list of the candidates when none is close.
func suggest(got string, candidates []string) string {
	if best, ok := closest(got, candidates); ok {
		return fmt.Sprintf("did you mean %q?", best)
	}
	sorted := append([]string(nil), candidates...)
	sort.Strings(sorted)
	return "known keys: " + strings.Join(sorted, ", ")
}

// closest returns the candidate closest to got if it is close enough to
// be a likely typo.
func closest(got string, candidates []string) (string, bool) {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(got), strings.ToLower(c))
		if bestDist < 0 || d < bestDist || (d == bestDist && c < best) {
			best, bestDist = c, d
		}
	}
	return best, best != "" && bestDist <= max(2, len(got)/3)
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		// Keys are short; a long string is not a typo of one.
		return max(len(a), len(b))
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
