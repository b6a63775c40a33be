package bot_test

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/bot"
)

func TestWeeklyFreezeAcrossDST(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no tzdata: %v", err)
	}
	// Friday 18:00 to Monday 08:00 Berlin time. On 2025-03-30 clocks go
	// forward, so that weekend is an hour shorter but keeps its wall times.
	w := bot.FreezeWindow{Name: "weekend", Weekly: &bot.WeeklyWindow{Location: berlin,
		StartDay: time.Friday, StartTime: 18 * time.Hour, EndDay: time.Monday, EndTime: 8 * time.Hour}}
	at := func(s string) time.Time {
		tm, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		name    string
		at      time.Time
		active  bool
		wantEnd time.Time
	}{
		{"Friday before the window", at("2025-03-28 17:59"), false, time.Time{}},
		{"Friday at the start", at("2025-03-28 18:00"), true, at("2025-03-31 08:00")},
		{"Sunday after the DST change", at("2025-03-30 12:00"), true, at("2025-03-31 08:00")},
		{"Monday 07:59 summer time", at("2025-03-31 07:59"), true, at("2025-03-31 08:00")},
		{"Monday 08:00 summer time", at("2025-03-31 08:00"), false, time.Time{}},
		{"Wednesday", at("2025-04-02 12:00"), false, time.Time{}},
		{"autumn change, Sunday", at("2025-10-26 02:30"), true, at("2025-10-27 08:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			active, end := w.ActiveAt(tt.at.UTC())
			if active != tt.active || !end.Equal(tt.wantEnd) {
				t.Errorf("ActiveAt(%s) = %v, %s; want %v, %s", tt.at, active, end, tt.active, tt.wantEnd)
			}
		})
	}
	if end := at("2025-03-31 08:00"); end.UTC().Hour() != 6 {
		t.Fatalf("test premise: Monday 08:00 CEST should be 06:00 UTC, got %s", end.UTC())
	}
}

func TestFixedFreeze(t *testing.T) {
	w := bot.FreezeWindow{Name: "launch", Start: t0, End: t0.Add(time.Hour)}
	if on, _ := w.ActiveAt(t0.Add(-time.Nanosecond)); on {
		t.Error("active before its start")
	}
	if on, end := w.ActiveAt(t0); !on || !end.Equal(t0.Add(time.Hour)) {
		t.Error("not active at its start")
	}
	if on, _ := w.ActiveAt(t0.Add(time.Hour)); on {
		t.Error("active at its end")
	}
}
