package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// commandLine is "tollgate CMD ..." in prose or a code block, up to the end
// of the code span or line.
var commandLine = regexp.MustCompile("(?m)\\btollgate ([a-z][a-z-]*)((?: +[^\\s`|]+)*)")

// Every command line the README and docs/ show names a real command (and
// subcommand) and only flags it has, so the examples work as written.
func TestDocumentedCommandLinesMatchTheCLI(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "..", "README.md"))
	help := map[string]string{}
	helpOf := func(cmd []string) string {
		key := strings.Join(cmd, " ")
		if h, ok := help[key]; ok {
			return h
		}
		var out bytes.Buffer
		dispatch(context.Background(), append(append([]string{}, cmd...), "--help"), &out, &out)
		help[key] = out.String()
		return help[key]
	}
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range commandLine.FindAllStringSubmatch(string(b), -1) {
			c, ok := commands[m[1]]
			if !ok {
				continue // prose: "tollgate does not …"
			}
			args := strings.Fields(m[2])
			cmd := []string{m[1]}
			if len(args) > 0 && slices.Contains(c.subs, args[0]) {
				cmd, args = append(cmd, args[0]), args[1:]
			}
			h := helpOf(cmd)
			for _, a := range args {
				if strings.Contains(a, "$(") || a == ">" || a == "&&" || a == "#" {
					break // the shell's, not tollgate's
				}
				if !strings.HasPrefix(a, "-") || a == "-" || a == "--" {
					continue
				}
				name, _, _ := strings.Cut(a, "=")
				name = strings.TrimRight(name, ".,;:)")
				if !strings.HasPrefix(name, "--") {
					t.Errorf("%s: %q spells %s with one dash: flags are --flag", filepath.Base(f), m[0], name)
					continue
				}
				if !strings.Contains(h, "\n  "+name+" ") && !strings.Contains(h, "\n  "+name+"\n") && name != "--help" {
					t.Errorf("%s: %q: tollgate %s has no flag %s", filepath.Base(f), m[0], strings.Join(cmd, " "), name)
				}
				checked++
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d documented flags checked: the pattern finds no command lines", checked)
	}
}
