// Package auditfmt renders an audit entry's data for people: a one-line
// summary (audit tail, the audit page) and its fields as label and value
// (the deployment page), instead of the raw JSON the leaf hash covers.
package auditfmt

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// maxSummary bounds a summary's length in runes.
const maxSummary = 120

// Summary says in one line what the entry with action and data recorded,
// e.g. "approved by bob (1 of 1 required)". Data that is not a JSON
// object gives "".
func Summary(action string, data []byte) string {
	var m map[string]any
	if json.Unmarshal(data, &m) != nil || len(m) == 0 {
		return ""
	}
	s := summarize(action, fields(m))
	if s == "" {
		s = generic(m)
	}
	return clip(oneLine(s), maxSummary)
}

// fields reads an entry's data as strings, "" for absent keys.
type fields map[string]any

func (f fields) s(key string) string {
	switch v := f[key].(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return fmt.Sprint(v)
	case bool:
		return fmt.Sprint(v)
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			parts = append(parts, fmt.Sprint(x))
		}
		return strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(f[key])
	return string(b)
}

// short is a commit SHA's first seven characters.
func (f fields) short(key string) string {
	s := f.s(key)
	if len(s) > 7 {
		return s[:7]
	}
	return s
}

// when is a recorded time as people read it, "2026-03-02 14:30 UTC"; a
// value that is not a time is left as recorded.
func (f fields) when(key string) string {
	s := f.s(key)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// opt returns format applied to the value of key, or "" when it is empty.
func (f fields) opt(format, key string) string {
	if v := f.s(key); v != "" && v != "0" && v != "false" {
		return fmt.Sprintf(format, v)
	}
	return ""
}

func summarize(action string, f fields) string {
	switch action {
	case "request.created":
		return fmt.Sprintf("%s deploy of %s@%s to %s for %s", f.s("trigger"), f.s("repo"), f.short("sha"), f.s("environment"), f.s("requester")) +
			f.opt(": %s", "reason") + f.opt(" (ticket %s)", "ticket")
	case "policy.decided":
		if f.s("allowed") == "true" {
			return "allowed" + checkCounts(f["checks"])
		}
		return "refused" + f.opt(": %s", "reason") + checkCounts(f["checks"])
	case "request.state":
		return fmt.Sprintf("%s → %s", f.s("from"), f.s("to")) + f.opt(": %s", "reason")
	case "deploy.started":
		return fmt.Sprintf("deploying %s@%s to %s", f.s("repo"), f.short("sha"), f.s("environment")) + f.opt(", approved by %s", "approvers")
	case "deploy.finished":
		files := f.s("files_sent") + " files"
		if files == "1 files" {
			files = "1 file"
		}
		return fmt.Sprintf("%s: %s sent to %s", f.s("result"), files, f.s("servers")) + f.opt(", release %s", "release") + f.opt(": %s", "error")
	case "deploy.rolled_back":
		return "rolled back" + f.opt(": %s", "reason")
	case "approval.granted":
		return fmt.Sprintf("approved by %s (%s of %s required)", f.s("approver"), f.s("count"), f.s("required"))
	case "approval.refused":
		return fmt.Sprintf("approval by %s refused", f.s("approver")) + f.opt(": %s", "reason")
	case "approval.revoked":
		return fmt.Sprintf("approval by %s revoked", f.s("approver")) + f.opt(": %s", "reason")
	case "emergency.review_opened":
		return fmt.Sprintf("emergency change by %s, review due by %s from %s", f.s("deployer"), f.when("due_at"), f.s("approvers")) + f.opt(": %s", "reason")
	case "emergency.reviewed":
		s := fmt.Sprintf("reviewed %s by %s at %s", strings.ReplaceAll(f.s("outcome"), "_", " "), f.s("reviewer"), f.when("reviewed_at"))
		if f.s("late") == "true" {
			s += " (late)"
		}
		return s + f.opt(": %s", "note")
	case "emergency.review_overdue":
		return "review overdue" + strings.TrimSuffix(" (was due by "+f.when("due_at")+")", " (was due by )")
	case "identity.linked":
		return fmt.Sprintf("linked to GitHub %s (id %s)", f.s("github_login"), f.s("github_id"))
	case "server.started", "server.stopped":
		return strings.TrimPrefix(f.opt("version %s, ", "version")+f.opt("config %.12s", "config_hash"), ", ")
	}
	return ""
}

// checkCounts counts a decision's checks by outcome: " (5 pass, 2 skipped)".
func checkCounts(checks any) string {
	list, _ := checks.([]any)
	counts := map[string]int{}
	var order []string
	for _, c := range list {
		m, _ := c.(map[string]any)
		o, _ := m["outcome"].(string)
		if o == "" {
			continue
		}
		if counts[o] == 0 {
			order = append(order, o)
		}
		counts[o]++
	}
	if len(order) == 0 {
		return ""
	}
	parts := make([]string, len(order))
	for i, o := range order {
		parts[i] = fmt.Sprintf("%d %s", counts[o], o)
	}
	return " (checks: " + strings.Join(parts, ", ") + ")"
}

// generic lists the scalar fields, sorted by key, as key=value.
func generic(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		switch v.(type) {
		case map[string]any, []any, nil:
			continue
		}
		if s := fields(m).s(k); s != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + fields(m).s(k)
	}
	return strings.Join(parts, " ")
}

// Field is one key of an entry's data and its value as text.
type Field struct{ Key, Value string }

// Fields lists the entry's data as key and value, in key order; nested
// values are compact JSON. Data that is not a JSON object gives nil.
func Fields(data []byte) []Field {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil {
		return nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Field, 0, len(keys))
	for _, k := range keys {
		var s string
		if json.Unmarshal(m[k], &s) != nil {
			s = string(m[k])
		}
		out = append(out, Field{Key: k, Value: s})
	}
	return out
}

// oneLine folds line breaks and tabs into spaces.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// clip shortens s to n runes, marking the cut with "…".
func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
