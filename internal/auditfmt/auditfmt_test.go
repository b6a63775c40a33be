package auditfmt

import (
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	tests := []struct {
		action, data, want string
	}{
		{"approval.granted", `{"approver":"bob","count":1,"required":2,"sha":"abc"}`, "approved by bob (1 of 2 required)"},
		{"request.state", `{"from":"queued","to":"running","reason":"deploying"}`, "queued → running: deploying"},
		{"policy.decided", `{"allowed":true,"checks":[{"outcome":"pass"},{"outcome":"skipped"},{"outcome":"pass"}]}`, "allowed (checks: 2 pass, 1 skipped)"},
		{"emergency.reviewed", `{"outcome":"acceptable","reviewer":"bob","reviewed_at":"2026-01-02T03:04:05Z","late":true,"note":"ok\nfine"}`,
			"reviewed acceptable by bob at 2026-01-02 03:04 UTC (late): ok fine"},
		{"emergency.reviewed", `{"outcome":"not_acceptable","reviewer":"carol","reviewed_at":"soon"}`, "reviewed not acceptable by carol at soon"},
		{"something.new", `{"b":"2","a":1,"nested":{"x":1},"empty":""}`, "a=1 b=2"},
		{"deploy.finished", `{"result":"succeeded","files_sent":1,"servers":"web-1","release":"r1"}`, "succeeded: 1 file sent to web-1, release r1"},
		{"deploy.finished", `{"result":"failed","files_sent":3,"servers":"web-1, web-2","error":"hook"}`, "failed: 3 files sent to web-1, web-2: hook"},
		{"request.created", `not json`, ""},
	}
	for _, tt := range tests {
		if got := Summary(tt.action, []byte(tt.data)); got != tt.want {
			t.Errorf("Summary(%s, %s) = %q, want %q", tt.action, tt.data, got, tt.want)
		}
	}
	long := Summary("x", []byte(`{"a":"`+strings.Repeat("y", 500)+`"}`))
	if n := len([]rune(long)); n != maxSummary || !strings.HasSuffix(long, "…") {
		t.Errorf("a long summary is %d runes: %q", n, long)
	}
}

func TestFields(t *testing.T) {
	got := Fields([]byte(`{"to":"running","n":3,"list":["a"],"s":"x\"y"}`))
	want := []Field{{"list", `["a"]`}, {"n", "3"}, {"s", `x"y`}, {"to", "running"}}
	if len(got) != len(want) {
		t.Fatalf("Fields = %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %v, want %v", i, got[i], want[i])
		}
	}
}
