package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		want     []string // positionals
		code     int
		done     bool
		stdout   string // substring
		stderr   string // prefix
		wantName string // --name afterwards
	}{
		{name: "flags around positionals", args: []string{"a", "--name", "x", "b"}, want: []string{"a", "b"}, wantName: "x"},
		{name: "single dash and = are accepted", args: []string{"-name=y", "a"}, want: []string{"a"}, wantName: "y"},
		{name: "-- ends the flags", args: []string{"a", "--", "--name"}, want: []string{"a", "--name"}},
		{name: "the optional positional may be absent", args: []string{"a"}, want: []string{"a"}},
		{name: "--help prints the help on stdout", args: []string{"a", "--help"}, code: ExitOK, done: true, stdout: "usage: tool sub A [B]\n\nDoes things.\n\nflags:\n  --name VALUE\n        who (default \"n\")\n"},
		{name: "-h too", args: []string{"-h"}, code: ExitOK, done: true, stdout: "usage: tool sub"},
		{name: "an unknown flag is named", args: []string{"a", "--nope"}, code: ExitUsage, done: true, stderr: "tool sub: unknown flag --nope\nusage: tool sub A [B]\n"},
		{name: "a flag without its value", args: []string{"a", "--name"}, code: ExitUsage, done: true, stderr: "tool sub: flag needs a value: --name\n"},
		{name: "a missing positional", args: nil, code: ExitUsage, done: true, stderr: "tool sub: missing A\n"},
		{name: "one too many", args: []string{"a", "b", "c"}, code: ExitUsage, done: true, stderr: "tool sub: unexpected argument \"c\"\n"},
		{name: "the alias sets the flag", args: []string{"a", "--nm", "z"}, want: []string{"a"}, wantName: "z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			f := New("tool sub", &stdout, &stderr, []string{"tool sub A [B]"}, "Does things.")
			name := f.String("name", "n", "who")
			f.Alias("nm", "name")
			code, done := f.Parse(tt.args, "A", "[B]")
			if code != tt.code || done != tt.done {
				t.Fatalf("Parse = %d, %v; want %d, %v\nstderr:\n%s", code, done, tt.code, tt.done, stderr.String())
			}
			if !done && (strings.Join(f.Pos, "|") != strings.Join(tt.want, "|") || tt.wantName != "" && *name != tt.wantName) {
				t.Errorf("positionals %q name %q; want %q %q", f.Pos, *name, tt.want, tt.wantName)
			}
			if !strings.Contains(stdout.String(), tt.stdout) || tt.stdout == "" && stdout.Len() > 0 {
				t.Errorf("stdout = %q, want %q", stdout.String(), tt.stdout)
			}
			if !strings.HasPrefix(stderr.String(), tt.stderr) || tt.stderr == "" && stderr.Len() > 0 {
				t.Errorf("stderr = %q, want prefix %q", stderr.String(), tt.stderr)
			}
			if strings.Contains(stdout.String()+stderr.String(), "--nm") {
				t.Error("the alias is shown")
			}
		})
	}
}

func TestPlural(t *testing.T) {
	for n, want := range map[int]string{0: "0 entries", 1: "1 entry", 2: "2 entries"} {
		if got := Plural(n, "entry", "entries"); got != want {
			t.Errorf("Plural(%d) = %q, want %q", n, got, want)
		}
	}
}
