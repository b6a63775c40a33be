package main

import (
	"context"
	"fmt"
	"net/http"

	"github.com/slack-go/slack"
)

// checkSlack checks the bot token against auth.test and that the signing
// secret, which authenticates every command and click, is set.
func (d *doctor) checkSlack(ctx context.Context) {
	s := d.cfg.Slack
	if !s.Enabled {
		d.pass(areaAuthentication, "Slack", "not configured: approvals happen through GitHub only")
		return
	}
	if s.SigningSecret.IsZero() {
		d.fail(areaAuthentication, "Slack signing secret", "slack.signing_secret is empty: requests from Slack cannot be authenticated",
			"set slack.signing_secret from the Slack app's Basic Information → App Credentials")
	} else {
		d.pass(areaAuthentication, "Slack signing secret", "set")
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	api := slack.New(s.BotToken.Value(), slack.OptionAPIURL(s.APIURL), slack.OptionHTTPClient(&http.Client{Timeout: d.timeout}))
	who, err := api.AuthTestContext(ctx)
	if err != nil {
		d.fail(areaAuthentication, "Slack bot token", "auth.test: "+err.Error(),
			"reinstall the Slack app to the workspace and set slack.bot_token to its Bot User OAuth Token (xoxb-…)")
		return
	}
	d.pass(areaAuthentication, "Slack bot token", fmt.Sprintf("bot %s in workspace %s", who.User, who.Team))
}
