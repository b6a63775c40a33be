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

// endOf returns when the recurrence starting at start ends: Duration added
// to the wall clock in the schedule's zone, so "Friday 18:00 for 62h" ends
// Monday 08:00 local time also on a weekend the clocks change.
func (f *FreezeWindow) endOf(start time.Time) time.Time {
	lt := start.In(f.Schedule.Location())
	return time.Date(lt.Year(), lt.Month(), lt.Day(), lt.Hour(), lt.Minute(), lt.Second(),
		lt.Nanosecond()+int(f.Duration), lt.Location())
}

// ActiveAt reports whether the window is in force at t and, if so, when it
// ends. Recurrences that start before the current one ends extend it.
func (f *FreezeWindow) ActiveAt(t time.Time) (time.Time, bool) {
	if f.Schedule == nil {
		if !t.Before(f.From) && t.Before(f.To) {
			return f.To, true
		}
		return time.Time{}, false
	}
	// The wall-clock end may differ from start+Duration by a DST shift;
	// look back a little further so such a start is not missed.
	start := f.Schedule.Next(t.Add(-f.Duration - 3*time.Hour))
	var end time.Time
	for i := 0; ; i++ {
		if start.IsZero() || start.After(t) || i == maxChain {
			return time.Time{}, false
		}
		if end = f.endOf(start); end.After(t) {
			break
		}
		start = f.Schedule.Next(start)
	}
	for range maxChain {
		n := f.Schedule.Next(start)
		if n.IsZero() || n.After(end) {
			break
		}
		start = n
		if e := f.endOf(n); e.After(end) {
			end = e
		}
	}
	return end, true
}
