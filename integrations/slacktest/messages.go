package slacktest

import (
	"encoding/json"
	"regexp"
	"strings"
)

// Button finds the block and value of the button with actionID in blocks.
func Button(blocks json.RawMessage, actionID string) (blockID, value string, ok bool) {
	var bs []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Elements []struct {
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	if json.Unmarshal(blocks, &bs) != nil {
		return "", "", false
	}
	for _, b := range bs {
		for _, e := range b.Elements {
			if b.Type == "actions" && e.ActionID == actionID {
				return b.BlockID, e.Value, true
			}
		}
	}
	return "", "", false
}

var (
	linkRE        = regexp.MustCompile(`<([^<>|]+)\|([^<>]*)>`)
	linkUnescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")
)

// LinkURL returns the URL of the first mrkdwn link (<url|text>) in s, "" when there is none.
func LinkURL(s string) string {
	if m := linkRE.FindStringSubmatch(s); m != nil {
		return linkUnescaper.Replace(m[1])
	}
	return ""
}
