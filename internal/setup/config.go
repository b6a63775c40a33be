package setup

import (
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// configEdit is one change to a mapping of the config file: set key to a
// plain scalar value, or delete the key when del is set.
type configEdit struct {
	section string // "" for the top level, else a top-level key such as "github"
	key     string
	value   string
	del     bool
}

// editConfigText applies edits to the config's text line by line, so every
// comment, blank line and key order the operator wrote stays as it was:
// only the edited values change, missing keys are added at the end of their
// section, and a missing section is appended.
func editConfigText(text string, doc *yaml.Node, edits []configEdit) (string, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	if len(lines) > 0 && !strings.HasSuffix(lines[len(lines)-1], "\n") {
		lines[len(lines)-1] += "\n"
	}
	top := doc.Content[0]

	type lineChange struct {
		line    int      // 1-based line the change is anchored to
		replace int      // lines to replace starting at line (0: insert after line)
		with    []string // new lines
	}
	var changes []lineChange
	var appendix []string // new sections, appended at the end
	newSection := map[string][]string{}
	var newSectionOrder []string

	for _, e := range edits {
		m := top
		indent := ""
		if e.section != "" {
			secKey, sec := mappingPair(top, e.section)
			if sec != nil && sec.Kind == yaml.ScalarNode && sec.Tag == "!!null" {
				// "github:" with nothing under it: add the key beneath.
				if !e.del {
					changes = append(changes, lineChange{line: secKey.Line, with: []string{"  " + e.key + ": " + e.value + "\n"}})
				}
				continue
			}
			if sec == nil {
				if e.del {
					continue
				}
				if _, seen := newSection[e.section]; !seen {
					newSectionOrder = append(newSectionOrder, e.section)
				}
				newSection[e.section] = append(newSection[e.section], "  "+e.key+": "+e.value+"\n")
				continue
			}
			if sec.Kind != yaml.MappingNode || sec.Style == yaml.FlowStyle {
				return "", fmt.Errorf("%s: line %d: expected a block mapping", e.section, sec.Line)
			}
			m = sec
		}
		if len(m.Content) > 0 {
			indent = strings.Repeat(" ", m.Content[0].Column-1)
		}
		k, v := mappingPair(m, e.key)
		switch {
		case k == nil && e.del:
		case k == nil:
			// Add after the last line of the section (or at the end of the file).
			after := len(lines)
			if e.section != "" {
				after = valueEnd(lines, m.Content[len(m.Content)-2], m)
			}
			changes = append(changes, lineChange{line: after, with: []string{indent + e.key + ": " + e.value + "\n"}})
		case e.del:
			changes = append(changes, lineChange{line: k.Line, replace: valueEnd(lines, k, m) - k.Line + 1})
		default:
			if v.Kind != yaml.ScalarNode || v.Line != k.Line || v.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
				return "", fmt.Errorf("%s: line %d: expected a one-line value", keyPath(e), k.Line)
			}
			old := lines[k.Line-1]
			head := old[:v.Column-1]
			changes = append(changes, lineChange{line: k.Line, replace: 1,
				with: []string{head + e.value + trailingComment(old[v.Column-1:], v.Style) + "\n"}})
		}
	}
	for _, name := range newSectionOrder {
		appendix = append(appendix, "\n"+name+":\n")
		appendix = append(appendix, newSection[name]...)
	}

	// Apply from the bottom up so earlier line numbers stay valid; inserts
	// after a line go before a change of that line, and keep their order.
	sort.SliceStable(changes, func(i, j int) bool {
		if changes[i].line != changes[j].line {
			return changes[i].line > changes[j].line
		}
		return changes[i].replace == 0 && changes[j].replace != 0
	})
	for i := 0; i < len(changes); {
		j := i
		var inserted []string
		for j < len(changes) && changes[j].line == changes[i].line && changes[j].replace == 0 {
			inserted = append(inserted, changes[j].with...)
			j++
		}
		if j > i {
			at := changes[i].line
			lines = append(lines[:at], append(inserted, lines[at:]...)...)
			i = j
			continue
		}
		c := changes[i]
		lines = append(lines[:c.line-1], append(c.with, lines[c.line-1+c.replace:]...)...)
		i++
	}
	return strings.Join(lines, "") + strings.Join(appendix, ""), nil
}

func keyPath(e configEdit) string {
	if e.section == "" {
		return e.key
	}
	return e.section + "." + e.key
}

// mappingPair finds key in mapping m.
func mappingPair(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i], m.Content[i+1]
		}
	}
	return nil, nil
}

// valueEnd is the last line of key k's entry in mapping m: up to the next
// key, or for the last key up to the last line indented deeper than k.
func valueEnd(lines []string, k *yaml.Node, m *yaml.Node) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i] == k && i+2 < len(m.Content) {
			end := m.Content[i+2].Line - 1
			for end > k.Line && strings.TrimSpace(lines[end-1]) == "" {
				end--
			}
			return end
		}
	}
	end := k.Line
	for l := k.Line + 1; l <= len(lines); l++ {
		s := lines[l-1]
		if strings.TrimSpace(s) == "" {
			continue
		}
		if len(s)-len(strings.TrimLeft(s, " ")) < k.Column {
			break
		}
		end = l
	}
	return end
}

// trailingComment returns the " # …" comment after a one-line scalar
// value (rest starts at the value), or "" when there is none.
func trailingComment(rest string, style yaml.Style) string {
	rest = strings.TrimRight(rest, "\r\n")
	start := 0
	switch {
	case style&yaml.DoubleQuotedStyle != 0:
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\\' {
				i++
			} else if rest[i] == '"' {
				start = i + 1
				break
			}
		}
	case style&yaml.SingleQuotedStyle != 0:
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				start = i + 1
				break
			}
		}
	}
	if i := strings.Index(rest[start:], " #"); i >= 0 {
		tail := rest[start+i:]
		// Keep the comment aligned where it was.
		pad := len(rest[:start+i]) - len(strings.TrimRight(rest[:start+i], " "))
		return strings.Repeat(" ", pad) + tail
	}
	return ""
}
