package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration parses Go duration syntax ("1h30m", "10s") extended with a
// leading whole number of days ("90d", "1d12h"). Negative values are refused.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	bad := func() (time.Duration, error) {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 90d, 24h, 1h30m)", orig)
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("duration %q is negative", orig)
	}
	if s == "" || strings.HasPrefix(s, "+") {
		return bad()
	}
	var days time.Duration
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseUint(s[:i], 10, 32)
		if err != nil || i == 0 {
			return bad()
		}
		if n > uint64(math.MaxInt64/int64(24*time.Hour)) {
			return 0, fmt.Errorf("duration %q is too long", orig)
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
		if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
			return bad()
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return bad()
	}
	if d > math.MaxInt64-days {
		return 0, fmt.Errorf("duration %q is too long", orig)
	}
	return days + d, nil
}
