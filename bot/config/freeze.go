package config

import "time"

// maxChain bounds how many back-to-back recurrences ActiveAt follows to
// find the end of a freeze; a schedule that never leaves a gap reports the
// end of the last one followed.
const maxChain = 10000

// FreezeWindow is a period in which deploys are refused (the emergency path
// overrides it). It is a fixed range [From, To) when Schedule is nil, and
// otherwise recurs: each firing of Schedule starts a window of Duration.
type FreezeWindow struct {
	Name     string
	Line     int // line of the window in the config file
	From, To time.Time
	Schedule *Schedule // nil for a fixed range; its Location is the window's time zone
	Duration time.Duration
}

// Recurring reports whether the window comes from a cron schedule.
func (f *FreezeWindow) Recurring() bool { return f.Schedule != nil }

// ActiveAt reports whether the window is in force at t and, if so, when it
// ends. Recurrences that start before the current one ends extend it.
func (f *FreezeWindow) ActiveAt(t time.Time) (time.Time, bool) {
	if f.Schedule == nil {
		if !t.Before(f.From) && t.Before(f.To) {
			return f.To, true
		}
		return time.Time{}, false
	}
	start := f.Schedule.Next(t.Add(-f.Duration))
	if start.IsZero() || start.After(t) {
		return time.Time{}, false
	}
	end := start.Add(f.Duration)
	for range maxChain {
		n := f.Schedule.Next(start)
		if n.IsZero() || n.After(end) {
			break
		}
		start, end = n, n.Add(f.Duration)
	}
	return end, true
}
