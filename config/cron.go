package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed 5-field cron specification (minute hour
// day-of-month month day-of-week) evaluated in a time zone. As in cron, when
// both day fields are restricted a day matching either one matches.
type Schedule struct {
	spec             string
	loc              *time.Location
	minute           uint64 // bit n: minute n
	hour             uint32
	dom              uint32 // bits 1..31
	month            uint16 // bits 1..12
	dow              uint8  // bits 0..6, Sunday = 0
	domStar, dowStar bool
}

var (
	monthNames = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
	dayNames   = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
)

// ParseSchedule parses a 5-field cron spec such as "0 18 * * fri" whose
// times are wall-clock times in loc.
func ParseSchedule(spec string, loc *time.Location) (*Schedule, error) {
	fields := strings.Fields(spec)
	if len(fields) != 5 {
		return nil, fmt.Errorf("cron spec %q has %d fields, want 5 (minute hour day-of-month month day-of-week)", spec, len(fields))
	}
	s := &Schedule{spec: spec, loc: loc}
	type part struct {
		name   string
		lo, hi int
		names  map[string]int
		bits   *uint64
	}
	var minute, hour, dom, month, dow uint64
	parts := []part{
		{"minute", 0, 59, nil, &minute},
		{"hour", 0, 23, nil, &hour},
		{"day of month", 1, 31, nil, &dom},
		{"month", 1, 12, monthNames, &month},
		{"day of week", 0, 7, dayNames, &dow},
	}
	for i, p := range parts {
		bits, err := parseCronField(fields[i], p.lo, p.hi, p.names)
		if err != nil {
			return nil, fmt.Errorf("cron spec %q: %s: %w", spec, p.name, err)
		}
		*p.bits = bits
	}
	if dow&(1<<7) != 0 { // 7 is Sunday too
		dow = dow&^(1<<7) | 1
	}
	s.minute, s.hour, s.dom, s.month, s.dow = minute, uint32(hour), uint32(dom), uint16(month), uint8(dow)
	s.domStar, s.dowStar = fields[2] == "*", fields[4] == "*"
	if !s.dowStar && fields[2] != "*" {
		return s, nil // either day field may match: some day always does
	}
	if !s.possible() {
		return nil, fmt.Errorf("cron spec %q never matches a date", spec)
	}
	return s, nil
}

// possible reports whether some month has a day in the day-of-month set.
func (s *Schedule) possible() bool {
	if s.domStar {
		return true
	}
	days := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}
	for m := 1; m <= 12; m++ {
		for d := 1; d <= days[m]; d++ {
			if s.month&(1<<m) != 0 && s.dom&(1<<d) != 0 {
				return true
			}
		}
	}
	return false
}

func parseCronField(f string, lo, hi int, names map[string]int) (uint64, error) {
	var bits uint64
	for item := range strings.SplitSeq(f, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 || n > hi {
				return 0, fmt.Errorf("invalid step %q", stepText)
			}
			step = n
		}
		var from, to int
		switch {
		case rng == "*":
			from, to = lo, hi
			if hi == 7 {
				to = 6
			}
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if from, err = cronValue(a, lo, hi, names); err != nil {
				return 0, err
			}
			if to, err = cronValue(b, lo, hi, names); err != nil {
				return 0, err
			}
			if from > to {
				return 0, fmt.Errorf("range %q runs backwards", rng)
			}
		default:
			v, err := cronValue(rng, lo, hi, names)
			if err != nil {
				return 0, err
			}
			from, to = v, v
			if hasStep {
				to = hi
			}
		}
		for v := from; v <= to; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func cronValue(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("invalid value %q", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("value %d out of range %d-%d", v, lo, hi)
	}
	return v, nil
}

// String returns the spec as written.
func (s *Schedule) String() string { return s.spec }

// Location is the time zone the schedule's wall-clock times are in.
func (s *Schedule) Location() *time.Location { return s.loc }

func (s *Schedule) dayMatches(d time.Time) bool {
	if s.month&(1<<int(d.Month())) == 0 {
		return false
	}
	domOK := s.dom&(1<<d.Day()) != 0
	dowOK := s.dow&(1<<int(d.Weekday())) != 0
	switch {
	case s.domStar && s.dowStar:
		return true
	case s.domStar:
		return dowOK
	case s.dowStar:
		return domOK
	default:
		return domOK || dowOK
	}
}

// Next returns the first time the schedule fires strictly after t, or the
// zero time if it does not fire within nine years. A wall-clock time that a
// daylight-saving change skips fires at the shifted instant Go's time.Date
// gives it, so a window is never silently lost.
func (s *Schedule) Next(t time.Time) time.Time {
	lt := t.In(s.loc)
	y, m, d := lt.Date()
	for i := 0; i < 9*366; i++ {
		day := time.Date(y, m, d+i, 0, 0, 0, 0, s.loc)
		if !s.dayMatches(day) {
			continue
		}
		if best := s.nextInDay(day, t); !best.IsZero() {
			return best
		}
	}
	return time.Time{}
}

// nextInDay returns the earliest firing on day's date strictly after t.
func (s *Schedule) nextInDay(day time.Time, t time.Time) time.Time {
	y, m, d := day.Date()
	var best time.Time
	bestWall := 0
	for h := 0; h < 24; h++ {
		if s.hour&(1<<h) == 0 {
			continue
		}
		if !time.Date(y, m, d, h, 59, 0, 0, s.loc).After(t) {
			continue
		}
		for mi := 0; mi < 60; mi++ {
			if s.minute&(1<<mi) == 0 {
				continue
			}
			wall := h*60 + mi
			if !best.IsZero() && wall > bestWall+120 {
				return best // later wall-clock times cannot come earlier
			}
			c := time.Date(y, m, d, h, mi, 0, 0, s.loc)
			if c.After(t) && (best.IsZero() || c.Before(best)) {
				best, bestWall = c, wall
			}
		}
	}
	return best
}
