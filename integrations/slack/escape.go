package slack

import (
	"regexp"
	"strings"
)

// esc is the one function every string that Tollgate did not write
// itself goes through before it enters a Slack message, in any field:
// the notification text (fallback), mrkdwn in blocks, ephemeral replies
// and response_url posts. That is refs and branch names, PR titles,
// reasons, tickets, notes, GitHub logins, refusal reasons and errors that
// quote any of those, and what a user typed. Slack reads <…> as a
// control sequence (<!channel>, <@U123>, <https://x|label>, <!date…>), so
// escaping &, < and > as Slack's formatting guide asks turns each into
// the literal text its author wrote, pinging and linking nothing.
// Messages are posted without link_names, so a bare @channel stays text.
//
// Text Tollgate writes with markup on purpose (links to GitHub and its
// own pages, <!date…> tokens, mentions of linked Slack users by id) is
// composed around escaped values, never passed through esc itself.
func esc(s string) string {
	return slackEscaper.Replace(s)
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackUserID is the shape of a Slack user id: only such an id is put
// inside a <@…> mention.
var slackUserID = regexp.MustCompile(`^[UW][A-Z0-9]{2,}$`)
