package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Bounds on work per file, so aliases that refer to aliases, or a file of
// garbage, cannot make decoding explode. A real config has a few hundred
// nodes and a handful of problems.
const (
	maxNodes    = 100_000
	maxProblems = 100
)

// decoder walks the YAML node tree, collecting every problem rather than
// stopping at the first, each with its line and key path.
type decoder struct {
	file     string
	dir      string
	lookup   func(string) (string, bool)
	problems []Problem
	warnings []Warning
	files    []fileRef
	budget   int
	cfg      *Config // the decoded config; returned only when no problem was found

	slackLine    int            // line of the slack key
	channelLines map[string]int // line of each slack.channels entry
}

func (d *decoder) errorf(line int, key, format string, args ...any) {
	if len(d.problems) >= maxProblems {
		d.budget = 0 // stop walking: node returns nil from now on
		return
	}
	d.problems = append(d.problems, Problem{File: d.file, Line: line, Key: key, Message: fmt.Sprintf(format, args...)})
	if len(d.problems) == maxProblems {
		d.problems[maxProblems-1] = Problem{File: d.file, Line: line, Key: "", Message: fmt.Sprintf("too many problems; stopped after %d", maxProblems-1)}
		d.budget = 0
	}
}

func (d *decoder) warnf(line int, key, format string, args ...any) {
	d.warnings = append(d.warnings, Warning{File: d.file, Line: line, Key: key, Message: fmt.Sprintf(format, args...)})
}

// node follows aliases and charges the visit to the budget; nil when spent.
func (d *decoder) node(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode {
		return nil
	}
	d.budget--
	if d.budget == 0 {
		d.errorf(n.Line, "", "document too complex: aliases expand to more than %d nodes", maxNodes)
	}
	if d.budget <= 0 {
		return nil
	}
	return n
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describe names a node's type for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!null":
		return "no value"
	default:
		return fmt.Sprintf("the string %q", n.Value)
	}
}

// entry is one key: value pair of a mapping.
type entry struct {
	key, val *yaml.Node
	path     string
}

// section is a decoded mapping with a fixed set of keys.
type section struct {
	d    *decoder
	path string
	line int // line of the key that introduced the mapping, for "missing" errors
	f    map[string]entry
}

// section checks that n (nil when absent) is a mapping whose keys are all
// in known, reporting unknown keys with a suggestion and duplicate keys.
func (d *decoder) section(path string, line int, n *yaml.Node, known ...string) *section {
	s := &section{d: d, path: path, line: line, f: map[string]entry{}}
	for _, e := range d.entries(path, n) {
		name := e.key.Value
		switch {
		case name == "<<":
			d.errorf(e.key.Line, e.path, "YAML merge keys (<<) are not supported; write the keys out")
		case !contains(known, name):
			d.errorf(e.key.Line, e.path, "unknown key (%s)", suggest(name, known))
		default:
			s.f[name] = e
		}
	}
	return s
}

// entries returns the pairs of mapping n in order, reporting duplicate and
// non-scalar keys. A nil or null n is an empty mapping.
func (d *decoder) entries(path string, n *yaml.Node) []entry {
	if n = d.node(n); n == nil || isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "expected a mapping, got %s", describe(n))
		return nil
	}
	var out []entry
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := d.node(n.Content[i]), d.node(n.Content[i+1])
		if k == nil || v == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k.Line, path, "keys must be plain strings, got %s", describe(k))
			continue
		}
		p := join(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorf(k.Line, p, "duplicate key (first on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, entry{key: k, val: v, path: p})
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// get returns the entry for name when it is present with a non-null value.
func (s *section) get(name string) (entry, bool) {
	e, ok := s.f[name]
	if !ok || isNull(e.val) {
		return entry{}, false
	}
	return e, true
}

// has reports whether name is present with a value.
func (s *section) has(name string) bool { _, ok := s.get(name); return ok }

// require reports a missing or empty required key.
func (s *section) require(name string) (entry, bool) {
	if e, ok := s.get(name); ok {
		return e, true
	}
	if e, ok := s.f[name]; ok {
		s.d.errorf(e.key.Line, e.path, "required value is empty")
	} else {
		s.d.errorf(s.line, join(s.path, name), "required key is missing")
	}
	return entry{}, false
}

// lineOf returns the line of name's key, or the section's line.
func (s *section) lineOf(name string) int {
	if e, ok := s.f[name]; ok {
		return e.key.Line
	}
	return s.line
}

// scalar expands ${VAR} in a scalar value. tag is "" when the text came
// from a variable, so its type is inferred from the text.
func (d *decoder) scalar(path string, n *yaml.Node, want string) (text, tag string, ok bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, path, "expected %s, got %s", want, describe(n))
		return "", "", false
	}
	out, used, err := expand(n.Value, d.lookup)
	if err != nil {
		d.errorf(n.Line, path, "%v", err)
		return "", "", false
	}
	if used {
		return out, "", true
	}
	return out, n.ShortTag(), true
}

func (d *decoder) stringValue(path string, n *yaml.Node) (string, bool) {
	text, tag, ok := d.scalar(path, n, "a string")
	if !ok {
		return "", false
	}
	if tag == "!!bool" {
		d.errorf(n.Line, path, "expected a string, got a boolean (quote it if you mean the text %q)", text)
		return "", false
	}
	if strings.TrimSpace(text) == "" {
		d.errorf(n.Line, path, "value is empty")
		return "", false
	}
	return text, true
}

func (d *decoder) intValue(path string, n *yaml.Node) (int64, bool) {
	text, tag, ok := d.scalar(path, n, "an integer")
	if !ok {
		return 0, false
	}
	if tag == "" || tag == "!!int" {
		if v, err := strconv.ParseInt(strings.ReplaceAll(text, "_", ""), 10, 64); err == nil {
			return v, true
		}
	}
	d.errorf(n.Line, path, "expected an integer, got %q", text)
	return 0, false
}

func (d *decoder) boolValue(path string, n *yaml.Node) (bool, bool) {
	text, tag, ok := d.scalar(path, n, "true or false")
	if !ok {
		return false, false
	}
	if tag == "" || tag == "!!bool" {
		switch strings.ToLower(text) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	d.errorf(n.Line, path, "expected true or false, got %q", text)
	return false, false
}

func (d *decoder) durationValue(path string, n *yaml.Node) (time.Duration, bool) {
	text, ok := d.stringValue(path, n)
	if !ok {
		return 0, false
	}
	v, err := ParseDuration(text)
	if err == nil && v == 0 {
		err = fmt.Errorf("duration must be greater than zero")
	}
	if err != nil {
		d.errorf(n.Line, path, "%v", err)
		return 0, false
	}
	return v, true
}

// seq returns the items of a list, reporting any other type.
func (d *decoder) seq(path string, n *yaml.Node) ([]*yaml.Node, bool) {
	if n = d.node(n); n == nil {
		return nil, false
	}
	if n.Kind != yaml.SequenceNode {
		hint := ""
		if n.Kind == yaml.ScalarNode {
			hint = fmt.Sprintf(" (write [%s] for a list of one)", n.Value)
		}
		d.errorf(n.Line, path, "expected a list, got %s%s", describe(n), hint)
		return nil, false
	}
	out := make([]*yaml.Node, 0, len(n.Content))
	for _, item := range n.Content {
		if item = d.node(item); item != nil {
			out = append(out, item)
		}
	}
	return out, true
}

func (d *decoder) stringList(path string, n *yaml.Node) ([]string, bool) {
	items, ok := d.seq(path, n)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for i, item := range items {
		v, ok2 := d.stringValue(index(path, i), item)
		if !ok2 {
			ok = false
			continue
		}
		out = append(out, v)
	}
	return out, ok
}

// eachString calls fn with the path, node and value of every string in the
// list under s's key name. A missing key calls nothing; a value that is not
// a list, or an item that is not a string, is reported and skipped.
func (d *decoder) eachString(s *section, name string, fn func(path string, item *yaml.Node, v string)) {
	e, ok := s.get(name)
	if !ok {
		return
	}
	items, _ := d.seq(e.path, e.val)
	for i, item := range items {
		p := index(e.path, i)
		if v, ok := d.stringValue(p, item); ok {
			fn(p, item, v)
		}
	}
}

// Typed getters on a section: each reports its own errors and returns
// ok=false when the key is absent or invalid.

func (s *section) str(name string) (string, bool) {
	e, ok := s.get(name)
	if !ok {
		return "", false
	}
	return s.d.stringValue(e.path, e.val)
}

func (s *section) integer(name string) (int64, bool) {
	e, ok := s.get(name)
	if !ok {
		return 0, false
	}
	return s.d.intValue(e.path, e.val)
}

func (s *section) boolean(name string) bool {
	e, ok := s.get(name)
	if !ok {
		return false
	}
	v, _ := s.d.boolValue(e.path, e.val)
	return v
}

func (s *section) duration(name string, def time.Duration) time.Duration {
	e, ok := s.get(name)
	if !ok {
		return def
	}
	v, ok := s.d.durationValue(e.path, e.val)
	if !ok {
		return def
	}
	return v
}

func (s *section) strings(name string) []string {
	e, ok := s.get(name)
	if !ok {
		return nil
	}
	v, _ := s.d.stringList(e.path, e.val)
	return v
}

// secret reads a secret and warns when it is written into the file rather
// than taken from the environment.
func (s *section) secret(name string) Secret {
	e, ok := s.get(name)
	if !ok {
		return Secret{}
	}
	v, ok := s.d.stringValue(e.path, e.val)
	if !ok {
		return Secret{}
	}
	if e.val.Kind == yaml.ScalarNode && !strings.Contains(e.val.Value, "${") {
		s.d.warnf(e.val.Line, e.path, "secret written in the config file; use ${VAR} so it stays out of the file")
	}
	return NewSecret(v)
}
