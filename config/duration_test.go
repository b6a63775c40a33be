package config

import (
	"testing"
	"time"
)

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
