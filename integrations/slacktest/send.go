package slacktest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

const formContentType = "application/x-www-form-urlencoded"

// VerificationToken is the deprecated "token" field Slack still sends; apps
// must not rely on it, so it is a fixed, meaningless value here.
const VerificationToken = "fake-deprecated-verification-token"

// SlashCommandParams describe a slash command invocation; empty optional
// fields take defaults (TeamDomain, ChannelName, Command "/deploy", APIAppID,
// a fresh TriggerID).
type SlashCommandParams struct {
	TeamID      string
	TeamDomain  string
	UserID      string
	UserName    string
	ChannelID   string
	ChannelName string
	Command     string
	Text        string
	TriggerID   string
	ResponseURL string
	APIAppID    string
}

// SlashCommandBody is the form-encoded body Slack sends for a slash command,
// with its fields in Slack's order. Send it with Signer.Post to replay it exactly.
func SlashCommandBody(p SlashCommandParams) []byte {
	setDefault(&p.TeamID, DefaultTeamID)
	setDefault(&p.TeamDomain, DefaultTeamDomain)
	setDefault(&p.ChannelName, defaultChannelName(p.ChannelID))
	setDefault(&p.Command, "/deploy")
	setDefault(&p.APIAppID, DefaultAppID)
	setDefault(&p.TriggerID, NewTriggerID())
	fields := [][2]string{
		{"token", VerificationToken},
		{"team_id", p.TeamID},
		{"team_domain", p.TeamDomain},
		{"channel_id", p.ChannelID},
		{"channel_name", p.ChannelName},
		{"user_id", p.UserID},
		{"user_name", p.UserName},
		{"command", p.Command},
		{"text", p.Text},
		{"api_app_id", p.APIAppID},
		{"is_enterprise_install", "false"},
		{"response_url", p.ResponseURL},
		{"trigger_id", p.TriggerID},
	}
	var b strings.Builder
	for i, f := range fields {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(url.QueryEscape(f[0]) + "=" + url.QueryEscape(f[1]))
	}
	return []byte(b.String())
}

// SlashCommand sends a signed slash command to targetURL (Tollgate's
// /slack/commands). The caller closes the response body.
func SlashCommand(ctx context.Context, targetURL, secret string, p SlashCommandParams, opts ...SendOption) (*http.Response, error) {
	return Signer{Secret: secret}.Post(ctx, targetURL, formContentType, SlashCommandBody(p), opts...)
}

// BlockAction sends a signed block_actions payload (a button click) to
// targetURL (Tollgate's /slack/interactions). The caller closes the response body.
func BlockAction(ctx context.Context, targetURL, secret string, p BlockActionParams, opts ...SendOption) (*http.Response, error) {
	body, err := BlockActionBody(p)
	if err != nil {
		return nil, err
	}
	return Signer{Secret: secret}.Post(ctx, targetURL, formContentType, body, opts...)
}

// ViewSubmission sends a signed view_submission payload (a modal's Submit) to
// targetURL (Tollgate's /slack/interactions). The caller closes the response body.
func ViewSubmission(ctx context.Context, targetURL, secret string, p ViewSubmissionParams, opts ...SendOption) (*http.Response, error) {
	body, err := ViewSubmissionBody(p)
	if err != nil {
		return nil, err
	}
	return Signer{Secret: secret}.Post(ctx, targetURL, formContentType, body, opts...)
}

// NewTriggerID mints a trigger_id shaped like Slack's ("1234567890.1234567890.hex").
func NewTriggerID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	now := time.Now()
	return fmt.Sprintf("%d.%d.%s", now.Unix(), now.Nanosecond(), hex.EncodeToString(b[:]))
}

// actionTS is an action_ts as Slack writes it ("1700000000.123456").
func actionTS(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10) + "." + fmt.Sprintf("%06d", t.Nanosecond()/1000)
}

func defaultChannelName(channelID string) string {
	if strings.HasPrefix(channelID, "D") {
		return "directmessage"
	}
	return "deploys"
}
