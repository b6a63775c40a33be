package config

import (
	"testing"
	"time"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// freezeOf parses a production environment with the given freeze lines and
// returns its one window as the domain evaluates it.
func freezeOf(t *testing.T, lines ...string) FreezeWindow {
	t.Helper()
	cfg, _, err := Parse("tollgate.yml", []byte(production(withTargets(append([]string{"deployers: [backend]", "freeze:"}, lines...)...)...)), testEnv)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := cfg.Environment("acme/api", "production")
	if len(e.Freezes) != 1 {
		t.Fatalf("%d freeze windows, want 1", len(e.Freezes))
	}
	p, _ := cfg.Policies().Environment("acme/api", "production")
	if len(p.FreezeWindows) != 1 || p.FreezeWindows[0].Name != e.Freezes[0].Name() {
		t.Fatalf("policy freeze windows %+v, want the configured one", p.FreezeWindows)
	}
	return e.Freezes[0]
}

// TestFreezeWindowActiveAt: windows parsed from the configuration, as the
// domain evaluates them, across the daylight-saving changes of 2025.
func TestFreezeWindowActiveAt(t *testing.T) {
	fixed := freezeOf(t, "  - name: year-end", "    from: 2025-12-22T00:00:00Z", "    to: 2026-01-02T09:00:00Z")
	weekend := freezeOf(t, "  - name: weekend", "    weekly: fri 18:00 - mon 08:00", "    timezone: Europe/Berlin")
	wrap := freezeOf(t, "  - name: sunday-night", "    weekly: Sunday 23:00 - Monday 01:00", "    timezone: Asia/Tokyo")
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	tests := []struct {
		name    string
		w       FreezeWindow
		at      string
		active  bool
		wantEnd string
	}{
		{"before fixed", fixed, "2025-12-21T23:59:59Z", false, ""},
		{"start of fixed is inside", fixed, "2025-12-22T00:00:00Z", true, "2026-01-02T09:00:00Z"},
		{"end of fixed is outside", fixed, "2026-01-02T09:00:00Z", false, ""},
		{"friday before 18:00 CET", weekend, "2025-03-28T16:59:00Z", false, ""},
		{"friday 18:00 CET", weekend, "2025-03-28T17:00:00Z", true, "2025-03-31T06:00:00Z"},
		{"autumn DST: ends 08:00 CET", weekend, "2025-10-27T06:59:00Z", true, "2025-10-27T07:00:00Z"},
		{"autumn DST: 08:00 CET is after", weekend, "2025-10-27T07:00:00Z", false, ""},
		// DST began on 2025-03-30: the window started at 18:00 CET and
		// ends at 08:00 on the wall clock, which is now CEST.
		{"monday across DST change", weekend, "2025-03-31T05:59:00Z", true, "2025-03-31T06:00:00Z"},
		{"monday 08:00 CEST is after the end", weekend, "2025-03-31T06:00:00Z", false, ""},
		{"next friday 17:30 CEST is before start", weekend, "2025-04-04T15:30:00Z", false, ""},
		{"next friday 18:30 CEST", weekend, "2025-04-04T16:30:00Z", true, "2025-04-07T06:00:00Z"},
		{"sunday wraps to monday", wrap, "2025-03-09T15:30:00Z", true, "2025-03-09T16:00:00Z"},
		{"monday after the wrap", wrap, "2025-03-09T16:00:00Z", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			active, end := tc.w.Window.ActiveAt(ts(tc.at))
			if active != tc.active {
				t.Fatalf("ActiveAt(%s) active = %v, want %v", tc.at, active, tc.active)
			}
			if active && !end.Equal(ts(tc.wantEnd)) {
				t.Errorf("ActiveAt(%s) end = %s, want %s", tc.at, end.UTC().Format(time.RFC3339), tc.wantEnd)
			}
		})
	}
}

// TestWeeklyFreezeFollowsTheWallClock compares a weekly window with the
// wall clock of its zone every 15 minutes over five weeks around the spring
// clock changes of America and Europe: frozen exactly when the local
// weekday and time fall between the start and the end.
func TestWeeklyFreezeFollowsTheWallClock(t *testing.T) {
	cases := []struct {
		name, weekly, zone string
	}{
		{"weekend Berlin", "fri 18:00 - mon 08:00", "Europe/Berlin"},
		{"a night New York", "wed 22:30 - thu 07:30", "America/New_York"},
		{"an hour UTC", "tue 09:00 - tue 10:00", "UTC"},
		{"sunday wraps to monday", "sun 23:00 - mon 01:00", "Asia/Tokyo"},
		{"a skipped hour in the window", "sun 01:30 - sun 03:30", "Europe/Berlin"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := freezeOf(t, "  - name: f", "    weekly: "+c.weekly, "    timezone: "+c.zone)
			w := f.Window.Weekly
			loc := mustLoc(t, c.zone)
			minuteOfWeek := func(d time.Weekday, at time.Duration) int { return int(d)*24*60 + int(at/time.Minute) }
			from, to := minuteOfWeek(w.StartDay, w.StartTime), minuteOfWeek(w.EndDay, w.EndTime)
			start := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
			for at := start; at.Before(start.AddDate(0, 0, 35)); at = at.Add(15 * time.Minute) {
				lt := at.In(loc)
				m := minuteOfWeek(lt.Weekday(), time.Duration(lt.Hour())*time.Hour+time.Duration(lt.Minute())*time.Minute)
				want := from <= m && m < to
				if from > to { // wraps over the end of the week
					want = m >= from || m < to
				}
				if got, _ := f.Window.ActiveAt(at); got != want {
					t.Fatalf("at %s (%s local): frozen %v, wall clock says %v", at.Format(time.RFC3339), lt.Format("Mon 15:04"), got, want)
				}
			}
		})
	}
}

func TestFreezeWindowString(t *testing.T) {
	weekend := freezeOf(t, "  - name: weekend", "    weekly: friday 18:00 - MON 08:00", "    timezone: Europe/Berlin")
	if got, want := weekend.String(), "weekly fri 18:00 - mon 08:00 Europe/Berlin"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	fixed := freezeOf(t, "  - name: launch", "    from: 2025-12-22T01:00:00+01:00", "    to: 2026-01-02T09:00:00Z")
	if got, want := fixed.String(), "2025-12-22T00:00:00Z .. 2026-01-02T09:00:00Z"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
