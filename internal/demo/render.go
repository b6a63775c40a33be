package demo

import (
	"encoding/json"
	"regexp"
	"strings"
)

// Rendering of Slack messages as a person reads them in the Slack client:
// Block Kit blocks become indented lines, mrkdwn links show their label,
// mentions show the name, dates show their fallback text.

// slackBlock is the part of a Block Kit block the demo renders.
type slackBlock struct {
	Type     string            `json:"type"`
	Text     *slackText        `json:"text"`
	Fields   []slackText       `json:"fields"`
	Elements []json.RawMessage `json:"elements"`
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// slackElement is a context element (text) or an actions element (button).
type slackElement struct {
	Type    string     `json:"type"`
	Text    *slackText `json:"text"` // a button's label
	Style   string     `json:"style"`
	Confirm *struct {
		Title slackText `json:"title"`
		Text  slackText `json:"text"`
	} `json:"confirm"`
}

// renderSlack renders a message's blocks, or its text when it has none,
// as lines without indentation.
func renderSlack(text string, blocks json.RawMessage, names map[string]string) []string {
	var bs []slackBlock
	if len(blocks) == 0 || json.Unmarshal(blocks, &bs) != nil || len(bs) == 0 {
		return splitLines(renderMrkdwn(text, names))
	}
	var out []string
	for _, b := range bs {
		switch b.Type {
		case "header":
			if b.Text != nil {
				out = append(out, "▌"+renderMrkdwn(b.Text.Text, names))
			}
		case "section":
			if b.Text != nil {
				out = append(out, splitLines(renderMrkdwn(b.Text.Text, names))...)
			}
			for _, f := range b.Fields {
				// A field is "*Label*\nvalue": show it as "Label: value".
				label, value, ok := strings.Cut(renderMrkdwn(f.Text, names), "\n")
				if !ok {
					out = append(out, label)
					continue
				}
				out = append(out, label+": "+strings.ReplaceAll(value, "\n", "; "))
			}
		case "context":
			var parts []string
			for _, raw := range b.Elements {
				var e slackText
				if json.Unmarshal(raw, &e) == nil && e.Text != "" {
					parts = append(parts, renderMrkdwn(e.Text, names))
				}
			}
			out = append(out, strings.Join(parts, " "))
		case "actions":
			var buttons []string
			for _, raw := range b.Elements {
				var e slackElement
				if json.Unmarshal(raw, &e) != nil || e.Type != "button" || e.Text == nil {
					continue
				}
				label := "[ " + e.Text.Text + " ]"
				if e.Confirm != nil {
					label += " (asks: " + renderMrkdwn(e.Confirm.Text.Text, names) + ")"
				}
				buttons = append(buttons, label)
			}
			out = append(out, strings.Join(buttons, "  "))
		case "divider":
			out = append(out, "────")
		}
	}
	return out
}

var (
	mrkdwnLink    = regexp.MustCompile(`<([^<>|]+)\|([^<>]*)>`)
	mrkdwnBare    = regexp.MustCompile(`<(https?://[^<>|]+)>`)
	mrkdwnMention = regexp.MustCompile(`<@([A-Z0-9]+)>`)
	mrkdwnDate    = regexp.MustCompile(`<!date\^[^|>]*\|([^>]*)>`)
	emoji         = strings.NewReplacer(
		":white_check_mark:", "✓", ":x:", "✗", ":heavy_minus_sign:", "–", ":no_entry:", "⛔",
		":no_entry_sign:", "⛔", ":rocket:", "▶", ":hourglass_flowing_sand:", "⏳",
		":leftwards_arrow_with_hook:", "↩", ":rotating_light:", "🚨", ":warning:", "⚠",
		":lock:", "🔒", ":unlock:", "🔓", ":eyes:", "👀",
	)
	unescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")
)

// renderMrkdwn turns Slack mrkdwn into plain text: dates show their
// fallback, mentions the person's name, links their label.
func renderMrkdwn(s string, names map[string]string) string {
	s = mrkdwnDate.ReplaceAllString(s, "$1")
	s = mrkdwnMention.ReplaceAllStringFunc(s, func(m string) string {
		id := mrkdwnMention.FindStringSubmatch(m)[1]
		if n, ok := names[id]; ok {
			return "@" + n
		}
		return "@" + id
	})
	s = mrkdwnLink.ReplaceAllString(s, "$2")
	s = mrkdwnBare.ReplaceAllString(s, "$1")
	return unescape.Replace(emoji.Replace(s))
}

func splitLines(s string) []string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}
