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

func TestScheduleNext(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	tests := []struct {
		name  string
		spec  string
		loc   *time.Location
		after string
		want  string
	}{
		{"every minute", "* * * * *", time.UTC, "2025-06-01T10:00:30Z", "2025-06-01T10:01:00Z"},
		{"strictly after", "0 18 * * *", time.UTC, "2025-06-01T18:00:00Z", "2025-06-02T18:00:00Z"},
		{"friday evening by name", "0 18 * * fri", time.UTC, "2025-06-01T00:00:00Z", "2025-06-06T18:00:00Z"},
		{"sunday as 7", "30 9 * * 7", time.UTC, "2025-06-02T00:00:00Z", "2025-06-08T09:30:00Z"},
		{"steps and ranges", "*/15 9-17/4 * * mon-fri", time.UTC, "2025-06-06T17:50:00Z", "2025-06-09T09:00:00Z"},
		{"day of month or day of week", "0 0 13 * fri", time.UTC, "2025-06-07T00:00:00Z", "2025-06-13T00:00:00Z"},
		{"leap day", "0 0 29 feb *", time.UTC, "2025-03-01T00:00:00Z", "2028-02-29T00:00:00Z"},
		{"wall clock in zone, winter", "0 18 * * fri", berlin, "2025-03-24T00:00:00Z", "2025-03-28T17:00:00Z"},
		{"wall clock in zone, summer", "0 18 * * fri", berlin, "2025-03-31T00:00:00Z", "2025-04-04T16:00:00Z"},
		// 02:30 does not exist on 2025-03-30 in Berlin; the window is
		// shifted to 03:30 CEST rather than lost.
		{"time skipped by DST fires shifted", "30 2 * * *", berlin, "2025-03-29T12:00:00Z", "2025-03-30T01:30:00Z"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSchedule(tc.spec, tc.loc)
			if err != nil {
				t.Fatal(err)
			}
			after, _ := time.Parse(time.RFC3339, tc.after)
			want, _ := time.Parse(time.RFC3339, tc.want)
			if got := s.Next(after); !got.Equal(want) {
				t.Errorf("Next(%s) = %s, want %s", tc.after, got.UTC().Format(time.RFC3339), tc.want)
			}
		})
	}
}

func TestParseScheduleRejects(t *testing.T) {
	tests := []struct{ name, spec, want string }{
		{"four fields", "0 18 * *", `cron spec "0 18 * *" has 4 fields, want 5 (minute hour day-of-month month day-of-week)`},
		{"minute out of range", "60 * * * *", `cron spec "60 * * * *": minute: value 60 out of range 0-59`},
		{"backwards range", "0 0 * * fri-mon", `cron spec "0 0 * * fri-mon": day of week: range "fri-mon" runs backwards`},
		{"zero step", "*/0 * * * *", `cron spec "*/0 * * * *": minute: invalid step "0"`},
		{"bad name", "0 0 * smarch *", `cron spec "0 0 * smarch *": month: invalid value "smarch"`},
		{"impossible date", "0 0 30 feb *", `cron spec "0 0 30 feb *" never matches a date`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSchedule(tc.spec, time.UTC)
			if err == nil || err.Error() != tc.want {
				t.Errorf("err = %v, want %s", err, tc.want)
			}
		})
	}
}

func TestFreezeWindowActiveAt(t *testing.T) {
	berlin := mustLoc(t, "Europe/Berlin")
	weekend, err := ParseSchedule("0 18 * * fri", berlin)
	if err != nil {
		t.Fatal(err)
	}
	nightly, err := ParseSchedule("0 22 * * mon,tue", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	fixed := FreezeWindow{Name: "year-end", From: ts("2025-12-22T00:00:00Z"), To: ts("2026-01-02T09:00:00Z")}
	recurring := FreezeWindow{Name: "weekend", Schedule: weekend, Duration: 62 * time.Hour}
	overlapping := FreezeWindow{Name: "nightly", Schedule: nightly, Duration: 25 * time.Hour}
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
		{"friday before 18:00 CET", recurring, "2025-03-28T16:59:00Z", false, ""},
		{"friday 18:00 CET", recurring, "2025-03-28T17:00:00Z", true, "2025-03-31T06:00:00Z"},
		{"autumn DST: ends 08:00 CET", recurring, "2025-10-27T06:59:00Z", true, "2025-10-27T07:00:00Z"},
		{"autumn DST: 08:00 CET is after", recurring, "2025-10-27T07:00:00Z", false, ""},
		// DST began on 2025-03-30: the window started at 18:00 CET and
		// ends at 08:00 on the wall clock, which is now CEST.
		{"monday across DST change", recurring, "2025-03-31T05:59:00Z", true, "2025-03-31T06:00:00Z"},
		{"monday 08:00 CEST is after the end", recurring, "2025-03-31T06:00:00Z", false, ""},
		{"next friday 17:30 CEST is before start", recurring, "2025-04-04T15:30:00Z", false, ""},
		{"next friday 18:30 CEST", recurring, "2025-04-04T16:30:00Z", true, "2025-04-07T06:00:00Z"},
		{"chained recurrences extend", overlapping, "2025-06-02T23:00:00Z", true, "2025-06-04T23:00:00Z"},
		{"after the chain", overlapping, "2025-06-04T23:00:00Z", false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			end, active := tc.w.ActiveAt(ts(tc.at))
			if active != tc.active {
				t.Fatalf("ActiveAt(%s) active = %v, want %v", tc.at, active, tc.active)
			}
			if active && !end.Equal(ts(tc.wantEnd)) {
				t.Errorf("ActiveAt(%s) end = %s, want %s", tc.at, end.UTC().Format(time.RFC3339), tc.wantEnd)
			}
		})
	}
}

func TestEnvironmentActiveFreezePicksLatestEnd(t *testing.T) {
	ts := func(s string) time.Time { v, _ := time.Parse(time.RFC3339, s); return v }
	e := &Environment{Freezes: []FreezeWindow{
		{Name: "short", From: ts("2025-01-01T00:00:00Z"), To: ts("2025-01-02T00:00:00Z")},
		{Name: "long", From: ts("2025-01-01T00:00:00Z"), To: ts("2025-01-05T00:00:00Z")},
	}}
	w, end, ok := e.ActiveFreeze(ts("2025-01-01T12:00:00Z"))
	if !ok || w.Name != "long" || !end.Equal(ts("2025-01-05T00:00:00Z")) {
		t.Errorf("ActiveFreeze = %v, %s, %v; want long until 2025-01-05", w, end, ok)
	}
	if _, _, ok := e.ActiveFreeze(ts("2025-01-06T00:00:00Z")); ok {
		t.Error("ActiveFreeze after every window reported one")
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"90d", 90 * 24 * time.Hour, ""},
		{"1d12h", 36 * time.Hour, ""},
		{"24h", 24 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"10s", 10 * time.Second, ""},
		{"-1h", 0, `duration "-1h" is negative`},
		{"1d-1h", 0, `invalid duration "1d-1h" (use e.g. 90d, 24h, 1h30m)`},
		{"d", 0, `invalid duration "d" (use e.g. 90d, 24h, 1h30m)`},
		{"10", 0, `invalid duration "10" (use e.g. 90d, 24h, 1h30m)`},
		{"1 hour", 0, `invalid duration "1 hour" (use e.g. 90d, 24h, 1h30m)`},
		{"99999999999d", 0, `invalid duration "99999999999d" (use e.g. 90d, 24h, 1h30m)`},
		{"107000d", 0, `duration "107000d" is too long`},
		{"106000d1000000h", 0, `duration "106000d1000000h" is too long`},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseDuration(tc.in)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Errorf("err = %v, want %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
		})
	}
	for _, d := range []time.Duration{90 * 24 * time.Hour, time.Hour, 36 * time.Hour, 90 * time.Minute, 10 * time.Second} {
		if back, err := ParseDuration(FormatDuration(d)); err != nil || back != d {
			t.Errorf("FormatDuration(%v) = %q does not parse back: %v, %v", d, FormatDuration(d), back, err)
		}
	}
}
