package bot

import "time"

// FreezeWindow is a period in which deploys to an environment are refused
// (only the emergency path overrides it). It is either a fixed range
// (Start, End) or a weekly recurrence (Weekly).
type FreezeWindow struct {
	Name   string
	Start  time.Time
	End    time.Time
	Weekly *WeeklyWindow
}

// WeeklyWindow recurs every week between two wall-clock times in a time
// zone, e.g. Friday 18:00 to Monday 08:00 Europe/Berlin. Wall-clock times
// keep their meaning across daylight-saving changes.
type WeeklyWindow struct {
	Location  *time.Location `json:"-"`
	StartDay  time.Weekday
	StartTime time.Duration // since local midnight
	EndDay    time.Weekday
	EndTime   time.Duration
}

// ActiveAt reports whether the window is in force at t and, if so, when it
// ends.
func (w FreezeWindow) ActiveAt(t time.Time) (bool, time.Time) {
	if w.Weekly != nil {
		return w.Weekly.activeAt(t)
	}
	if !t.Before(w.Start) && t.Before(w.End) {
		return true, w.End
	}
	return false, time.Time{}
}

// activeAt finds the latest start at or before t (within the last week)
// and checks whether t is before the end that follows it.
func (w *WeeklyWindow) activeAt(t time.Time) (bool, time.Time) {
	loc := w.Location
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	for back := 0; back <= 7; back++ {
		day := time.Date(lt.Year(), lt.Month(), lt.Day()-back, 0, 0, 0, 0, loc)
		if day.Weekday() != w.StartDay {
			continue
		}
		start := atWallClock(day, w.StartTime)
		if start.After(lt) {
			continue
		}
		end := w.endAfter(start)
		if lt.Before(end) {
			return true, end
		}
		return false, time.Time{}
	}
	return false, time.Time{}
}

// endAfter returns the first EndDay/EndTime strictly after start.
func (w *WeeklyWindow) endAfter(start time.Time) time.Time {
	for fwd := 0; fwd <= 7; fwd++ {
		day := time.Date(start.Year(), start.Month(), start.Day()+fwd, 0, 0, 0, 0, start.Location())
		if day.Weekday() != w.EndDay {
			continue
		}
		if end := atWallClock(day, w.EndTime); end.After(start) {
			return end
		}
	}
	return start // an empty window: start == end a week later never happens
}

// atWallClock returns the instant at wall-clock offset d after the local
// midnight of day, so 18:00 stays 18:00 on a day that is 23 or 25 hours long.
func atWallClock(day time.Time, d time.Duration) time.Time {
	h := int(d / time.Hour)
	m := int((d % time.Hour) / time.Minute)
	return time.Date(day.Year(), day.Month(), day.Day(), h, m, 0, 0, day.Location())
}
