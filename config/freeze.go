package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/bot"
)

// FreezeWindow is one configured freeze: where it is written, how it
// reads, and the window the domain evaluates (bot.FreezeWindow, the one
// representation of a freeze: a fixed range or a weekly recurrence).
type FreezeWindow struct {
	Line   int
	Window bot.FreezeWindow
}

// Name is the window's name.
func (f FreezeWindow) Name() string { return f.Window.Name }

// String says when the window is in force, for summaries and evidence:
// "2025-12-22T00:00:00Z .. 2026-01-02T08:00:00Z" or
// "weekly fri 18:00 - mon 08:00 Europe/Berlin".
func (f FreezeWindow) String() string {
	w := f.Window
	if w.Weekly == nil {
		return w.Start.UTC().Format(time.RFC3339) + " .. " + w.End.UTC().Format(time.RFC3339)
	}
	loc := "UTC"
	if w.Weekly.Location != nil {
		loc = w.Weekly.Location.String()
	}
	return "weekly " + formatWeekTime(w.Weekly.StartDay, w.Weekly.StartTime) + " - " +
		formatWeekTime(w.Weekly.EndDay, w.Weekly.EndTime) + " " + loc
}

// dayNames are the day abbreviations of the weekly syntax, Sunday first
// as time.Weekday counts.
var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func formatWeekTime(day time.Weekday, at time.Duration) string {
	return fmt.Sprintf("%s %02d:%02d", dayNames[day], int(at/time.Hour), int(at%time.Hour/time.Minute))
}

// parseWeekly parses "fri 18:00 - mon 08:00": a start day and wall-clock
// time, a dash, an end day and time. The window runs from the start to the
// next end after it, so it may wrap over the weekend.
func parseWeekly(s string, loc *time.Location) (*bot.WeeklyWindow, error) {
	from, to, ok := strings.Cut(s, " - ")
	if !ok {
		return nil, fmt.Errorf("%q: want \"<day> <HH:MM> - <day> <HH:MM>\", e.g. \"fri 18:00 - mon 08:00\"", s)
	}
	w := &bot.WeeklyWindow{Location: loc}
	var err error
	if w.StartDay, w.StartTime, err = parseWeekTime(from); err != nil {
		return nil, fmt.Errorf("%q: start: %w", s, err)
	}
	if w.EndDay, w.EndTime, err = parseWeekTime(to); err != nil {
		return nil, fmt.Errorf("%q: end: %w", s, err)
	}
	if w.StartDay == w.EndDay && w.StartTime == w.EndTime {
		return nil, fmt.Errorf("%q: the window is empty (or a whole week: use a fixed range or a lock)", s)
	}
	return w, nil
}

// parseWeekTime parses "fri 18:00".
func parseWeekTime(s string) (time.Weekday, time.Duration, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, 0, fmt.Errorf("%q: want a day (mon…sun) and a time (HH:MM)", strings.TrimSpace(s))
	}
	day := -1
	for i := range dayNames {
		if strings.EqualFold(f[0], dayNames[i]) || strings.EqualFold(f[0], dayFull[i]) {
			day = i
		}
	}
	if day < 0 {
		return 0, 0, fmt.Errorf("unknown day %q (use mon, tue, wed, thu, fri, sat or sun)", f[0])
	}
	hh, mm, ok := strings.Cut(f[1], ":")
	h, errH := strconv.Atoi(hh)
	m, errM := strconv.Atoi(mm)
	if !ok || errH != nil || errM != nil || len(mm) != 2 || h < 0 || h > 23 || m < 0 || m > 59 {
		return 0, 0, fmt.Errorf("invalid time %q (use 24-hour HH:MM, 00:00 to 23:59)", f[1])
	}
	return time.Weekday(day), time.Duration(h)*time.Hour + time.Duration(m)*time.Minute, nil
}

// dayFull are the full day names, also accepted ("friday 18:00").
var dayFull = [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// freeze decodes one window: a fixed range (from, to) or a weekly
// recurrence (weekly, timezone).
func (d *decoder) freeze(p string, n *yaml.Node) (FreezeWindow, bool) {
	s := d.section(p, n.Line, n, "name", "from", "to", "weekly", "timezone", "cron", "duration")
	if n.Kind != yaml.MappingNode {
		return FreezeWindow{}, false
	}
	w := FreezeWindow{Line: n.Line}
	ok := true
	if _, has := s.require("name"); has {
		w.Window.Name, _ = s.str("name")
	}
	if s.has("cron") || s.has("duration") {
		line := s.lineOf("cron")
		if !s.has("cron") {
			line = s.lineOf("duration")
		}
		d.errorf(line, p, "cron freeze windows were replaced by weekly windows: write the start and end, e.g. "+
			"weekly: \"fri 18:00 - mon 08:00\" with timezone: Europe/Berlin (docs/config.md, Freeze windows)")
		return w, false
	}
	fixed, recurring := s.has("from") || s.has("to"), s.has("weekly")
	switch {
	case fixed && recurring:
		d.errorf(n.Line, p, "a window is either from/to or weekly, not both")
		return w, false
	case fixed:
		if s.has("timezone") {
			d.errorf(s.lineOf("timezone"), join(p, "timezone"), "timezone applies to weekly windows; from and to carry their own UTC offset")
			ok = false
		}
		var okFrom, okTo bool
		w.Window.Start, okFrom = d.timestamp(s, "from")
		w.Window.End, okTo = d.timestamp(s, "to")
		if okFrom && okTo && !w.Window.End.After(w.Window.Start) {
			d.errorf(s.lineOf("to"), join(p, "to"), "window ends (%s) before it starts (%s)",
				w.Window.End.Format(time.RFC3339), w.Window.Start.Format(time.RFC3339))
			ok = false
		}
		ok = ok && okFrom && okTo
	case recurring:
		loc := time.UTC
		if e, has := s.get("timezone"); has {
			if v, good := d.stringValue(e.path, e.val); good {
				l, err := loadLocation(v)
				if err != nil {
					d.errorf(e.val.Line, e.path, "unknown time zone %q (use an IANA name such as Europe/Berlin)", v)
					ok = false
				} else {
					loc = l
				}
			}
		}
		e, _ := s.get("weekly")
		if v, good := d.stringValue(e.path, e.val); good {
			weekly, err := parseWeekly(v, loc)
			if err != nil {
				d.errorf(e.val.Line, e.path, "%v", err)
				ok = false
			}
			w.Window.Weekly = weekly
		}
		ok = ok && w.Window.Weekly != nil
	default:
		d.errorf(n.Line, p, "a window needs from and to, or weekly")
		return w, false
	}
	return w, ok && w.Window.Name != ""
}
