package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// slackScopesHeader is where Slack lists, on every Web API answer, the
// scopes of the token the call was made with.
const slackScopesHeader = "X-OAuth-Scopes"

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
	who, err := slackAuthTest(ctx, &http.Client{Timeout: d.timeout}, s.APIURL, s.BotToken.Value())
	if err != nil {
		d.fail(areaAuthentication, "Slack bot token", err.Error(),
			"reinstall the Slack app to the workspace and set slack.bot_token to its Bot User OAuth Token (xoxb-…)")
		return
	}
	d.pass(areaAuthentication, "Slack bot token", fmt.Sprintf("bot %s in workspace %s", who.user, who.team))
	d.checkSlackScopes(who)
}

// slackIdentity is what auth.test says about the bot token.
type slackIdentity struct {
	user, team string
	scopes     []string
	scopesSent bool // the answer carried X-OAuth-Scopes
}

// slackAuthTest calls auth.test with the bot token. It does not go through
// slack-go: its AuthTest drops the answer's headers, and the token's
// scopes are only in X-OAuth-Scopes. Errors never contain the token.
func slackAuthTest(ctx context.Context, client *http.Client, apiURL, token string) (slackIdentity, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, apiURL+"auth.test", http.NoBody)
	if err != nil {
		return slackIdentity{}, fmt.Errorf("auth.test: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		return slackIdentity{}, fmt.Errorf("auth.test: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return slackIdentity{}, fmt.Errorf("auth.test: HTTP %s", resp.Status)
	}
	var body struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
		User  string `json:"user"`
		Team  string `json:"team"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return slackIdentity{}, fmt.Errorf("auth.test: reading the answer: %w", err)
	}
	if !body.OK {
		if body.Error == "" {
			body.Error = "refused without an error code"
		}
		return slackIdentity{}, fmt.Errorf("auth.test: %s", body.Error)
	}
	values := resp.Header.Values(slackScopesHeader)
	return slackIdentity{user: body.User, team: body.Team, scopes: parseSlackScopes(values), scopesSent: len(values) > 0}, nil
}

// parseSlackScopes splits X-OAuth-Scopes values ("commands,chat:write",
// older answers "commands, chat:write").
func parseSlackScopes(values []string) []string {
	var scopes []string
	for _, v := range values {
		for sc := range strings.SplitSeq(v, ",") {
			if sc = strings.TrimSpace(sc); sc != "" && !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
	}
	return scopes
}

// checkSlackScopes compares the token's scopes with slackBotScopes, the
// list the setup manifest requests.
func (d *doctor) checkSlackScopes(who slackIdentity) {
	const what = "Slack token scopes"
	if !who.scopesSent {
		d.fail(areaPermissions, what, "auth.test answered without an "+slackScopesHeader+" header, so the token's scopes are unknown",
			"point slack.api_url at Slack's Web API (the default), not at a proxy that drops response headers")
		return
	}
	var missing []string
	for _, need := range slackBotScopes {
		if !slices.Contains(who.scopes, need) {
			missing = append(missing, need)
		}
	}
	if len(missing) > 0 {
		has := "none"
		if len(who.scopes) > 0 {
			has = strings.Join(who.scopes, ", ")
		}
		d.fail(areaPermissions, what, fmt.Sprintf("missing %s (has %s)", strings.Join(missing, ", "), has),
			fmt.Sprintf("add %s under Bot Token Scopes on the Slack app's OAuth & Permissions page, then reinstall the app to the workspace",
				strings.Join(missing, " and ")))
		return
	}
	d.pass(areaPermissions, what, "has "+strings.Join(slackBotScopes, ", "))
}
