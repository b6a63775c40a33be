package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one reason a configuration is invalid, located in the file.
type Problem struct {
	File    string // the config file name as given to Parse or Load
	Line    int    // 1-based line the problem is reported at
	Key     string // dotted key path, e.g. "repositories.acme/api.environments.production.deployers"
	Message string // what is wrong and, where possible, how to fix it
}

// String formats the problem as "FILE:LINE: KEY: message" (the key is left
// out when the problem concerns no key, e.g. a YAML syntax error).
func (p Problem) String() string { return location(p.File, p.Line, p.Key) + p.Message }

// Warning is something that does not stop Tollgate from running but that an
// operator should fix, such as a key file readable by other users.
type Warning struct {
	File    string // the config file name
	Line    int    // 1-based line of the key concerned
	Key     string // dotted key path
	Message string // what is wrong and how to fix it
}

// String formats the warning as "FILE:LINE: warning: KEY: message".
func (w Warning) String() string {
	return fmt.Sprintf("%s:%d: warning: ", w.File, w.Line) + keyPrefix(w.Key) + w.Message
}

func location(file string, line int, key string) string {
	return fmt.Sprintf("%s:%d: ", file, line) + keyPrefix(key)
}

func keyPrefix(key string) string {
	if key == "" {
		return ""
	}
	return key + ": "
}

// ValidationError holds every problem found in a configuration, sorted by
// line. Its Error text is one "FILE:LINE: KEY: message" line per problem.
type ValidationError struct {
	Problems []Problem
}

// Error joins the problems, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Line != ps[j].Line {
			return ps[i].Line < ps[j].Line
		}
		if ps[i].Key != ps[j].Key {
			return ps[i].Key < ps[j].Key
		}
		return ps[i].Message < ps[j].Message
	})
}

func sortWarnings(ws []Warning) {
	sort.SliceStable(ws, func(i, j int) bool {
		if ws[i].Line != ws[j].Line {
			return ws[i].Line < ws[j].Line
		}
		return ws[i].Key < ws[j].Key
	})
}
