package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/demo"
)

// runAsDemo makes this test binary act as tollgate-demo when it runs under
// that name, so `tollgate demo` finds a real tollgate-demo on PATH.
func runAsDemo() {
	if filepath.Base(os.Args[0]) == demoBinary {
		os.Exit(demo.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
}

// demoOnPath puts this test binary on PATH as tollgate-demo.
func demoOnPath(t *testing.T) {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Symlink(self, filepath.Join(dir, demoBinary)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
}

// cliCommands lists every command line that is one command: each command,
// and each subcommand of a group as "audit tail".
func cliCommands() [][]string {
	var out [][]string
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, []string{n})
		for _, s := range commands[n].subs {
			out = append(out, []string{n, s})
		}
	}
	return out
}

// singleDashFlag finds a flag spelled -flag instead of --flag.
var singleDashFlag = regexp.MustCompile(`(^|[\s\[(|])-[A-Za-z][A-Za-z-]*`)

// Every command and subcommand prints its help to stdout with exit 0,
// through `help CMD` and `CMD --help` alike, and names an unknown flag on
// stderr with the usage, exit 2.
func TestEveryCommandHasHelpAndRefusesUnknownFlags(t *testing.T) {
	demoOnPath(t)
	ctx := context.Background()
	for _, cmd := range cliCommands() {
		name := strings.Join(cmd, " ")
		t.Run(name, func(t *testing.T) {
			var helps []string
			for _, args := range [][]string{append([]string{"help"}, cmd...), append(append([]string{}, cmd...), "--help")} {
				var stdout, stderr bytes.Buffer
				code := dispatch(ctx, args, &stdout, &stderr)
				if code != exitOK || stderr.Len() > 0 || !strings.Contains(stdout.String(), "usage: tollgate") {
					t.Fatalf("tollgate %s: exit %d, want 0 and the usage on stdout\nstdout:\n%s\nstderr:\n%s",
						strings.Join(args, " "), code, stdout.String(), stderr.String())
				}
				if m := singleDashFlag.FindString(stdout.String()); m != "" && cmd[0] != "demo" {
					t.Errorf("tollgate %s spells a flag %q: flags are --flag", strings.Join(args, " "), strings.TrimSpace(m))
				}
				helps = append(helps, stdout.String())
			}
			if helps[0] != helps[1] {
				t.Errorf("help %s and %s --help differ:\n%s\n---\n%s", name, name, helps[0], helps[1])
			}

			var stdout, stderr bytes.Buffer
			code := dispatch(ctx, append(append([]string{}, cmd...), "--no-such-flag"), &stdout, &stderr)
			if code != exitUsage || !strings.Contains(stderr.String(), "--no-such-flag") || !strings.Contains(stderr.String(), "usage: ") {
				t.Fatalf("tollgate %s --no-such-flag: exit %d, want 2 with the flag named and the usage on stderr\nstdout:\n%s\nstderr:\n%s",
					name, code, stdout.String(), stderr.String())
			}
			if first, _, _ := strings.Cut(stderr.String(), "\n"); !strings.Contains(first, "unknown flag --no-such-flag") {
				t.Errorf("the first line does not say what was wrong: %q", first)
			}
		})
	}
}

func TestTopLevelHelpVersionAndMistakes(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string // a regular expression; "" means stdout must be empty
		stderr string
	}{
		{"no command", nil, exitUsage, "", `^tollgate: missing command\nusage: tollgate COMMAND`},
		{"help", []string{"help"}, exitOK, `usage: tollgate COMMAND(.|\n)*  verify +recompute`, ""},
		{"--help", []string{"--help"}, exitOK, `usage: tollgate COMMAND`, ""},
		{"-h", []string{"-h"}, exitOK, `usage: tollgate COMMAND`, ""},
		{"--version", []string{"--version"}, exitOK, `^tollgate \S+ .*go1\.\d+`, ""},
		{"version", []string{"version"}, exitOK, `^tollgate \S+ .*go1\.\d+`, ""},
		{"unknown command", []string{"deploy"}, exitUsage, "", `^tollgate: unknown command "deploy"\nusage:`},
		{"help of an unknown command", []string{"help", "deploy"}, exitUsage, "", `^tollgate help: unknown command "deploy"`},
		{"a flag before the command", []string{"--config", "x", "verify"}, exitUsage, "", `^tollgate: unknown flag --config`},
		{"unknown subcommand", []string{"audit", "tial"}, exitUsage, "", `^tollgate audit: unknown subcommand "tial"\nusage: tollgate audit SUBCOMMAND`},
		{"missing subcommand", []string{"store"}, exitUsage, "", `^tollgate store: missing subcommand`},
		{"missing argument", []string{"audit", "prove", "--database", "x.db"}, exitUsage, "", `^tollgate audit prove: missing SEQ\nusage: tollgate audit prove SEQ`},
		{"missing flag value", []string{"verify", "--database"}, exitUsage, "", `^tollgate verify: flag needs a value: --database\nusage:`},
		{"bad flag value", []string{"audit", "tail", "--count", "x"}, exitUsage, "", `^tollgate audit tail: invalid value "x" for --count`},
		{"stray argument", []string{"verify", "extra"}, exitUsage, "", `^tollgate verify: unexpected argument "extra"`},
		{"missing required flag", []string{"keygen"}, exitUsage, "", `^tollgate keygen: --name NAME is required\nusage: tollgate keygen`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := dispatch(context.Background(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			for _, o := range []struct {
				name, got, want string
			}{{"stdout", stdout.String(), tt.stdout}, {"stderr", stderr.String(), tt.stderr}} {
				if o.want == "" && o.got != "" || o.want != "" && !regexp.MustCompile(o.want).MatchString(o.got) {
					t.Errorf("%s = %q, want %q", o.name, o.got, o.want)
				}
			}
		})
	}
}

func TestVersionJSON(t *testing.T) {
	code, out, errOut := runCLI(t, "version", "--json")
	var v struct{ Version, Go, Platform string }
	if code != exitOK || json.Unmarshal([]byte(out), &v) != nil || v.Version == "" || !strings.HasPrefix(v.Go, "go") || v.Platform == "" {
		t.Fatalf("version --json: exit %d, %q %q", code, out, errOut)
	}
}

// tollgate-demo's own command line follows the same rules.
func TestDemoBinaryHelpAndUnknownFlag(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := demo.Main(context.Background(), []string{"--help"}, &stdout, &stderr); code != exitOK ||
		!strings.Contains(stdout.String(), "usage: tollgate-demo") || !strings.Contains(stdout.String(), "--data DIR") || stderr.Len() > 0 {
		t.Fatalf("tollgate-demo --help: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := demo.Main(context.Background(), []string{"--bogus"}, &stdout, &stderr); code != exitUsage ||
		!strings.HasPrefix(stderr.String(), "tollgate-demo: unknown flag --bogus\nusage: tollgate-demo") {
		t.Fatalf("tollgate-demo --bogus: exit %d\nstderr:\n%s", code, stderr.String())
	}
}
