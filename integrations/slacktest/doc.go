// Package slacktest is a fake Slack for tests and the demo: an httptest server
// that answers the Web API methods Tollgate uses (so slack-go talks to it
// unmodified through slack.OptionAPIURL), accepts response_url posts, records
// every call, injects latency, errors and rate limits, and signs requests to
// Tollgate exactly as Slack does (slash commands, button clicks, modal
// submissions).
//
// It is stricter than Slack where strictness catches bugs: channels and users
// must be registered (AddChannel, AddUser) before they are used, and a reply to
// a thread that does not exist is refused.
package slacktest
