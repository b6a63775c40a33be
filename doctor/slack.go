package doctor

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	slackint "github.com/tollgate-dev/tollgate/integrations/slack"
)

// checkSlack checks the bot token and its scopes against auth.test and
// that the signing secret, which authenticates every command and click,
// is set.
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
	who, err := slackint.CheckToken(ctx, &http.Client{Timeout: d.timeout}, s.APIURL, s.BotToken.Value())
	if err != nil {
		d.fail(areaAuthentication, "Slack bot token", err.Error(),
			"reinstall the Slack app to the workspace and set slack.bot_token to its Bot User OAuth Token (xoxb-…)")
		return
	}
	d.pass(areaAuthentication, "Slack bot token", fmt.Sprintf("bot %s in workspace %s", who.User, who.Team))
	d.checkSlackScopes(who)
	d.checkSlackSignIn(ctx)
}

// checkSlackSignIn checks the Slack app's OAuth client, with which
// /deploy link proves the Slack user (Sign in with Slack), against Slack.
func (d *doctor) checkSlackSignIn(ctx context.Context) {
	const what = "Sign in with Slack (linking)"
	s := d.cfg.Slack
	callback := strings.TrimSuffix(d.cfg.PublicURL, "/") + slackint.PathSlackCallback
	if !s.SignInConfigured() {
		d.fail(areaAuthentication, what, "slack.client_id and slack.client_secret are not set: "+
			"/deploy link cannot prove who a Slack user is, so nobody can link a GitHub account",
			fmt.Sprintf("set slack.client_id and slack.client_secret from the Slack app's Basic Information → App Credentials, "+
				"and list %s under Redirect URLs on its OAuth & Permissions page", callback))
		return
	}
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	c := slackint.SlackSignIn{APIURL: s.APIURL, ClientID: s.ClientID, ClientSecret: s.ClientSecret.Value(),
		HTTPClient: &http.Client{Timeout: d.timeout}}
	if err := c.CheckClient(ctx); err != nil {
		d.fail(areaAuthentication, what, "Slack refused the app's client: "+err.Error(),
			"copy the Client ID and Client Secret from the Slack app's Basic Information → App Credentials into slack.client_id and slack.client_secret")
		return
	}
	d.pass(areaAuthentication, what, fmt.Sprintf("Slack accepts client %s; its redirect URL must be %s", s.ClientID, callback))
}

// checkSlackScopes compares the token's scopes with slackint.BotScopes, the
// list the setup manifest requests.
func (d *doctor) checkSlackScopes(who slackint.TokenInfo) {
	const what = "Slack token scopes"
	if !who.ScopesSent {
		d.fail(areaPermissions, what, "auth.test answered without an X-OAuth-Scopes header, so the token's scopes are unknown",
			"point slack.api_url at Slack's Web API (the default), not at a proxy that drops response headers")
		return
	}
	var missing []string
	for _, need := range slackint.BotScopes {
		if !slices.Contains(who.Scopes, need) {
			missing = append(missing, need)
		}
	}
	if len(missing) > 0 {
		has := "none"
		if len(who.Scopes) > 0 {
			has = strings.Join(who.Scopes, ", ")
		}
		d.fail(areaPermissions, what, fmt.Sprintf("missing %s (has %s)", strings.Join(missing, ", "), has),
			fmt.Sprintf("add %s under Bot Token Scopes on the Slack app's OAuth & Permissions page, then reinstall the app to the workspace",
				strings.Join(missing, " and ")))
		return
	}
	d.pass(areaPermissions, what, "has "+strings.Join(slackint.BotScopes, ", "))
}
