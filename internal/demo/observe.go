package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/tollgate-dev/tollgate/integrations/slacktest"
	"github.com/tollgate-dev/tollgate/store/audit"
)

// demoObserver prints what changed since it last looked, in the places a
// person would look: Slack (as rendered in the client), GitHub (deployment
// statuses and PR comments, from the fake's record) and the audit log.
type demoObserver struct {
	out   io.Writer
	fakes *demoFakes
	log   *audit.Log
	names map[string]string // Slack user id → name

	slackVersions map[string]int      // message ts → versions printed
	slackLines    map[string][]string // message ts → lines printed last
	ephemerals    map[string]int      // user → ephemerals printed
	statuses      map[int64]int       // GitHub deployment id → statuses printed
	comments      map[int64]string    // comment id → body printed
	auditNext     int64               // next audit seq to print
	actions       map[string][]int64  // audit action → seqs, for the story's checks
}

func newDemoObserver(out io.Writer, fakes *demoFakes, log *audit.Log) *demoObserver {
	o := &demoObserver{out: out, fakes: fakes, log: log, names: map[string]string{},
		slackVersions: map[string]int{}, slackLines: map[string][]string{}, ephemerals: map[string]int{}, statuses: map[int64]int{},
		comments: map[int64]string{}, actions: map[string][]int64{}}
	for _, p := range demoCast {
		o.names[p.SlackID] = p.Login
	}
	o.names[fakes.slack.BotUserID()] = "tollgate"
	return o
}

func (o *demoObserver) printf(format string, args ...any) { fmt.Fprintf(o.out, format, args...) }

// slackItem is one new thing seen in Slack, ordered by its timestamp.
type slackItem struct {
	ts    string
	lines []string
}

// flush prints everything new, then the audit entries appended meanwhile.
func (o *demoObserver) flush(ctx context.Context) error {
	o.flushSlack()
	o.flushGitHub()
	return o.flushAudit(ctx)
}

func (o *demoObserver) flushSlack() {
	sl := o.fakes.slack
	var items []slackItem
	channels := []string{demoChannel}
	for _, p := range demoCast {
		channels = append(channels, p.SlackID) // the bot's direct messages with them
	}
	for _, ch := range channels {
		where := "#" + demoChanName
		if ch != demoChannel {
			where = "DM to @" + o.names[ch]
		}
		for _, m := range sl.Messages(ch) {
			items = append(items, o.slackMessage(where, m)...)
			for _, r := range sl.Thread(ch, m.TS) {
				items = append(items, o.slackMessage(where+", in the thread", r)...)
			}
		}
	}
	for _, p := range demoCast {
		es := sl.Ephemerals(p.SlackID)
		for _, e := range es[o.ephemerals[p.SlackID]:] {
			items = append(items, slackItem{ts: e.TS, lines: append([]string{fmt.Sprintf("Slack, only @%s sees:", p.Login)},
				renderSlack(e.Text, e.Blocks, o.names)...)})
		}
		o.ephemerals[p.SlackID] = len(es)
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].ts < items[j].ts })
	for _, it := range items {
		o.printf("    %s\n", it.lines[0])
		for _, l := range it.lines[1:] {
			o.printf("      │ %s\n", l)
		}
	}
}

// slackMessage returns a message when it is new or was edited since it was
// last printed (intermediate edits are not shown, only the latest version).
func (o *demoObserver) slackMessage(where string, m slacktest.Message) []slackItem {
	seen := o.slackVersions[m.TS]
	if seen >= len(m.History) {
		return nil
	}
	o.slackVersions[m.TS] = len(m.History)
	lines := renderSlack(m.Text, m.Blocks, o.names)
	prev := o.slackLines[m.TS]
	o.slackLines[m.TS] = lines
	if seen == 0 {
		return []slackItem{{ts: m.TS, lines: append([]string{fmt.Sprintf("Slack %s, @tollgate:", where)}, lines...)}}
	}
	changed := changedLines(prev, lines)
	if len(changed) == 0 {
		return nil
	}
	head := fmt.Sprintf("Slack %s, @tollgate edited its message %q; now:", where, firstLine(lines))
	return []slackItem{{ts: m.EditedTS, lines: append([]string{head}, changed...)}}
}

// changedLines returns the lines of next that prev did not have, and a
// note for each line of prev that is gone (such as the buttons).
func changedLines(prev, next []string) []string {
	had := map[string]bool{}
	for _, l := range prev {
		had[l] = true
	}
	has := map[string]bool{}
	var out []string
	for _, l := range next {
		has[l] = true
		if !had[l] {
			out = append(out, l)
		}
	}
	for _, l := range prev {
		if !has[l] && strings.HasPrefix(l, "[ ") {
			out = append(out, "(the buttons are gone)")
		}
	}
	return out
}

func firstLine(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return strings.TrimPrefix(lines[0], "▌")
}

func (o *demoObserver) flushGitHub() {
	gh := o.fakes.gh
	for _, d := range gh.Deployments(demoRepo) {
		seen, ok := o.statuses[d.ID]
		if !ok {
			o.printf("    GitHub: deployment %d of %s to %q created by %s\n", d.ID, demoShort(d.SHA), d.Environment, d.Creator)
		}
		for _, st := range d.Statuses[seen:] {
			line := fmt.Sprintf("    GitHub: deployment %d status %-11s", d.ID, st.State)
			if st.Description != "" {
				line += " " + strings.TrimSpace(st.Description)
			}
			o.printf("%s\n", line)
			if st.LogURL != "" && st.State != "queued" && st.State != "in_progress" {
				o.printf("              log_url %s\n", st.LogURL)
			}
		}
		o.statuses[d.ID] = len(d.Statuses)
	}
	for _, is := range gh.Issues(demoRepo) {
		for _, c := range gh.IssueComments(demoRepo, is.Number) {
			if o.comments[c.ID] == c.Body {
				continue
			}
			prev, seen := o.comments[c.ID]
			o.comments[c.ID] = c.Body
			lines := splitLines(c.Body)
			if seen {
				o.printf("    GitHub: %s updated its comment on PR #%d; changed lines:\n", c.User, is.Number)
				lines = changedLines(splitLines(prev), lines)
			} else {
				o.printf("    GitHub: %s commented on PR #%d:\n", c.User, is.Number)
			}
			for _, l := range lines {
				o.printf("      │ %s\n", l)
			}
		}
	}
}

func (o *demoObserver) flushAudit(ctx context.Context) error {
	size, err := o.log.Size(ctx)
	if err != nil {
		return err
	}
	for ; o.auditNext < size; o.auditNext++ {
		e, err := o.log.Get(ctx, o.auditNext)
		if err != nil {
			return err
		}
		o.actions[e.Action] = append(o.actions[e.Action], e.Seq)
		o.printf("    audit #%-3d %-24s %-10s %s%s\n", e.Seq, e.Action, e.Actor, e.Subject, auditHint(e.Data))
	}
	return nil
}

// auditHint picks the few fields of an entry's data that say what happened.
func auditHint(data json.RawMessage) string {
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return ""
	}
	var parts []string
	for _, k := range []string{"to", "state", "result", "outcome", "allowed", "code", "files_sent", "environment"} {
		if v, ok := m[k]; ok && v != nil && v != "" {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
		if len(parts) == 3 {
			break
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "  (" + strings.Join(parts, " ") + ")"
}

// demoShort returns the first seven characters of a SHA.
func demoShort(sha string) string {
	if len(sha) > 7 {
		return sha[:7]
	}
	return sha
}
